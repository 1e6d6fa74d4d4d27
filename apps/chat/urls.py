from django.urls import path

from apps.chat import views

app_name = "chat"
urlpatterns = [
    path("", views.index, name="index"),
    path("new/", views.create, name="create"),
    path("<int:pk>/", views.conversation, name="conversation"),
    path("<int:pk>/rename/", views.rename, name="rename"),
    path("<int:pk>/delete/", views.delete, name="delete"),
    path("answers/<int:message_id>/feedback/", views.feedback, name="feedback"),
    path("admin/feedback/", views.console_feedback, name="console_feedback"),
]
