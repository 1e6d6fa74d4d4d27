from django.contrib import admin
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path
from django.views.i18n import set_language

from apps.scenarios.alert_triage import receiver as alert_receiver
from portal import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("metrics", views.metrics, name="metrics"),
    # The language switcher is on the login page too, so it must work signed out.
    path("i18n/setlang/", login_not_required(set_language), name="set_language"),
    path("accounts/", include("apps.accounts.urls")),
    path("admin-console/llm/", include("apps.inference.console_urls")),
    path("admin-console/cluster/", include("apps.capacity.console_urls")),
    path("admin-console/", include("apps.accounts.console_urls")),
    path("admin-console/knowledge/", include("apps.knowledge.console_urls")),
    path("admin-console/feedback/", include("apps.chat.console_urls")),
    path("admin-console/scenarios/feedback/", include("apps.scenarios.console_urls")),
    path(
        "admin-console/scenarios/redis-advice/",
        include("apps.scenarios.redis_advice.console_urls"),
    ),
    path(
        "admin-console/scenarios/migration/",
        include("apps.scenarios.migration.console_urls"),
    ),
    path(
        "admin-console/scenarios/alert-triage/",
        include("apps.scenarios.alert_triage.console_urls"),
    ),
    path(
        "admin-console/scenarios/onboarding/",
        include("apps.scenarios.onboarding.console_urls"),
    ),
    path(
        "admin-console/scenarios/messenger/",
        include("apps.scenarios.messenger.console_urls"),
    ),
    # The Slack app's and the Mattermost bot's requests (signed or with a token, no session).
    path("hooks/messenger/", include("apps.scenarios.messenger.urls")),
    # Alertmanager's and Grafana's webhook (bearer token, no session).
    path("hooks/alertmanager/", alert_receiver.webhook, name="alert_webhook"),
    path("chat/", include("apps.chat.urls")),
    path("v1/", include("apps.openai_api.urls")),
    path("search/", include("apps.knowledge.urls")),
    path("scenarios/alert-triage/", include("apps.scenarios.alert_triage.urls")),
    path("scenarios/postmortem/", include("apps.scenarios.postmortem.urls")),
    path("scenarios/migration/", include("apps.scenarios.migration.urls")),
    path("scenarios/onboarding/", include("apps.scenarios.onboarding.urls")),
    path("scenarios/", include("apps.scenarios.urls")),
    path("api/scenarios/", include("apps.scenarios.api")),
    path("capacity/", include("apps.capacity.urls")),
    path("django-admin/", admin.site.urls),
]
