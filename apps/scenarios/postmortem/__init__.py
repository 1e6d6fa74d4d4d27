"""Post-mortems: drafted from a timeline, chat exports and the incident's alerts (merged
timeline, milestones, time to detect / acknowledge / mitigate / resolve, action items).
See docs/postmortem.md."""

from apps.scenarios.engine import registry
from apps.scenarios.postmortem.scenario import Postmortem
from apps.scenarios.postmortem.summary import PostmortemSummary

registry.register(Postmortem())
registry.register(PostmortemSummary())


def _admin() -> None:
    # The template an admin edits (django-admin/ → post-mortem templates).
    from django.contrib import admin

    from apps.scenarios.postmortem.models import PostmortemTemplate

    if not admin.site.is_registered(PostmortemTemplate):
        admin.site.register(PostmortemTemplate, list_display=("language", "updated"))


_admin()


def _connect() -> None:
    from apps.knowledge.signals import source_synced
    from apps.scenarios.postmortem import auto, tasks  # noqa: F401  (Celery registers tasks)

    source_synced.connect(auto.on_sync_finished, dispatch_uid="postmortem.announce")


_connect()
