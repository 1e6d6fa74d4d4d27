"""Onboarding: tracks per team kept as files in knowledge sources, found when the source
syncs; each newcomer's progress per step; a lead's view; questions answered from the
onboarding sources and the track's links. See docs/onboarding.md."""

from django.utils.translation import gettext_lazy as _

from apps.accounts import console_nav
from apps.knowledge.signals import source_synced
from apps.scenarios.engine import registry
from apps.scenarios.onboarding import sync
from apps.scenarios.onboarding.scenario import Onboarding

registry.register(Onboarding())
console_nav.register(_("Onboarding tracks"), "onboarding_console:index", order=62)
source_synced.connect(sync.on_source_synced, dispatch_uid="onboarding.tracks")
