"""Grounding by exact code: with Ceph's health-checks reference indexed in the knowledge base,
the grounded-answer service cites each finding's own section first, for every finding of a
real-shaped `ceph health detail`."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import translation

from apps.scenarios.ceph_health import codes
from apps.scenarios.engine import registry
from common import testing

DATA = Path(__file__).parent / "data" / "ceph"


@pytest.mark.django_db
def test_each_finding_cites_its_own_section_of_the_reference(
    settings: Any, tmp_path: Path, admin_user: User
) -> None:
    from apps.knowledge import actions
    from apps.knowledge.search import answering
    from apps.knowledge.store import qdrant

    qdrant.close()
    settings.QDRANT_URL = ""
    settings.QDRANT_PATH = str(tmp_path / "qdrant")
    settings.KNOWLEDGE_JOBS_INLINE = True
    docs = tmp_path / "ceph" / "doc" / "rados" / "operations"
    docs.mkdir(parents=True)
    shutil.copy(testing.corpus() / "ceph" / codes.DOC_PATH, docs)
    try:
        job = actions.ingest_directory(admin_user, tmp_path / "ceph", "Ceph documentation", [])
        assert job.state == "done" and job.chunks_done > 50
        cited = 0
        with translation.override("en"):
            for name in ("host_down_detail.txt", "full_detail.txt", "mon_detail.txt"):
                analysis = registry.get("ceph-health").analyze((DATA / name).read_text(), {})
                for finding in analysis.findings:
                    if not finding.refs:
                        continue
                    scope = answering.Scope(terms=finding.refs)
                    grounding = answering.ground(admin_user, finding.message, scope=scope)
                    first = grounding.citations[0]
                    assert first["section"] in finding.data["cite"]["sections"], (
                        finding.rule,
                        first,
                    )
                    cited += 1
        assert cited >= 12
    finally:
        from apps.knowledge.models import Source

        # Indexing jobs may write from their own connections: take the source away in any case.
        Source.objects.filter(name="Ceph documentation").delete()
        qdrant.close()
