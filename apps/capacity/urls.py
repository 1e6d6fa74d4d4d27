from django.urls import path

from apps.capacity import views

app_name = "capacity"
urlpatterns = [
    path("", views.planner, name="planner"),
    path("seed-check/", views.seed_check, name="seed"),
]
