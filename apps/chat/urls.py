from django.urls import path
from django.views.generic import RedirectView

from apps.chat import views

app_name = "chat"
urlpatterns = [
    path("", views.index, name="index"),
    path("new/", views.create, name="create"),
    path("continue/", views.continue_from, name="continue"),
    path("<int:pk>/", views.conversation, name="conversation"),
    path("<int:pk>/rename/", views.rename, name="rename"),
    path("<int:pk>/delete/", views.delete, name="delete"),
    path("answers/<int:message_id>/feedback/", views.feedback, name="feedback"),
    # The console page's former address: old bookmarks still arrive.
    path(
        "admin/feedback/",
        RedirectView.as_view(
            pattern_name="chat_console:feedback", permanent=True, query_string=True
        ),
    ),
]
