"""/admin-console/cluster/: the live cluster dashboard (admins only)."""

from django.urls import path

from apps.capacity import console

app_name = "cluster"
urlpatterns = [
    path("", console.cluster, name="index"),
]
