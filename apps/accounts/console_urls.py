"""/admin-console/: accounts' own pages plus each app's console section."""

from django.urls import path

from apps.accounts import console

app_name = "console"
urlpatterns = [
    path("", console.index, name="index"),
    path("users/", console.users, name="users"),
    path("audit/", console.audit_log, name="audit"),
    path("lockouts/", console.lockouts_view, name="lockouts"),
    path("lockouts/remove/", console.lockout_remove, name="lockout_remove"),
]
