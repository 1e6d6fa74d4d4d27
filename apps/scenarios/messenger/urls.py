"""/hooks/messenger/: the Slack app's and the Mattermost bot's request URLs (no session; each
request is verified by its signature or token)."""

from django.urls import path

from apps.scenarios.messenger import views

app_name = "messenger"
urlpatterns = [
    path("slack/commands/", views.slack_command, name="slack_command"),
    path("slack/events/", views.slack_events, name="slack_events"),
    path("mattermost/command/", views.mattermost_command, name="mattermost_command"),
    path("mattermost/webhook/", views.mattermost_webhook, name="mattermost_webhook"),
]
