from django.contrib import admin
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path
from django.views.i18n import set_language

from portal import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("metrics", views.metrics, name="metrics"),
    # The language switcher is on the login page too, so it must work signed out.
    path("i18n/setlang/", login_not_required(set_language), name="set_language"),
    path("accounts/", include("apps.accounts.urls")),
    path("admin-console/llm/", include("apps.inference.urls")),
    path("admin-console/cluster/", include("apps.capacity.console_urls")),
    path("admin-console/", include("apps.accounts.console_urls")),
    path("admin-console/knowledge/", include("apps.knowledge.console_urls")),
    path("chat/", include("apps.chat.urls")),
    path("v1/", include("apps.chat.openai_api")),
    path("search/", include("apps.knowledge.urls")),
    path("scenarios/", include("apps.scenarios.urls")),
    path("capacity/", include("apps.capacity.urls")),
    path("django-admin/", admin.site.urls),
]
