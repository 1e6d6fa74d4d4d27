from django.urls import path

from apps.scenarios import views

app_name = "scenarios"
urlpatterns = [
    path("", views.index, name="index"),
    path("history/", views.history, name="history"),
    path("git-files/", views.git_files, name="git_files"),
    path("shared/<str:token>/", views.shared, name="shared"),
    path("<slug:slug>/", views.page, name="page"),
    path("<slug:slug>/runs/<int:pk>/", views.run_page, name="run"),
    path("<slug:slug>/runs/<int:pk>/share/", views.share, name="share"),
    path("<slug:slug>/runs/<int:pk>/feedback/", views.feedback, name="feedback"),
    path("<slug:slug>/runs/<int:pk>/explain/", views.explain, name="explain"),
    path("<slug:slug>/runs/<int:pk>/delete/", views.delete, name="delete"),
]
