"""The onboarding assistant in the team's messenger: a Slack app (slash command, mentions,
direct messages) and a Mattermost bot (slash command, outgoing webhook) answer questions the
way the onboarding page does, with the asking user's permissions, once their messenger
account is linked to their portal account. See docs/configuration.md and docs/operations.md."""

from django.utils.translation import gettext_lazy as _

from apps.accounts import console_nav
from apps.scenarios.messenger import tasks  # noqa: F401  (Celery registers tasks)

console_nav.register(_("Messenger"), "messenger_console:index", order=63)
