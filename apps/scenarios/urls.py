from django.urls import path

from apps.scenarios import views

app_name = "scenarios"
urlpatterns = [path("", views.index, name="index")]
