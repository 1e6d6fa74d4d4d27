"""Ceph health: `ceph health detail` / `ceph status` (text or JSON) turned into one finding
per health code, with its meaning, what to check first and which commands are safe."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from django.utils.translation import gettext_lazy as _

from apps.scenarios.engine import registry
from apps.scenarios.engine.base import Analysis, Scenario, check_size


class CephHealth(Scenario):
    slug = "ceph-health"
    title = _("Ceph health")
    summary = _("Paste `ceph health detail` or `ceph status`; get causes and safe next steps.")
    instruction: ClassVar[str] = (
        "Explain the Ceph health findings below to the on-call engineer, most urgent first: "
        "what each health code means, how the linked codes explain each other, and the first "
        "safe checks, citing the Ceph documentation sections given. Commands listed as needing "
        "care must never be suggested as a first step. Do not add health codes or problems "
        "that are not in the findings."
    )

    def analyze(self, text: str, params: Mapping[str, Any]) -> Analysis:
        from apps.scenarios.ceph_health import diagnose, parse

        return diagnose.analysis(parse.parse(check_size(text)))


registry.register(CephHealth())
