"""Both embedded engines (QDRANT_ENGINE=edge, the default, and qdrant-client's local mode)
give the same behaviour: hybrid search, the permission filter, incremental sync, one process
per directory. The rest of the suite runs on the default engine."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth.models import User

from apps.knowledge.search import retrieval
from apps.knowledge.store import qdrant
from apps.knowledge.store.edge import EdgeStore
from apps.knowledge.tests.conftest import chunks_of

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["edge", "local"])
def engine(request, tmp_path: Path, settings) -> Iterator[str]:
    qdrant.close()
    settings.QDRANT_ENGINE = request.param
    settings.QDRANT_PATH = str(tmp_path / "embedded-index")
    yield request.param
    qdrant.close()


@pytest.fixture
def edge(tmp_path: Path, settings) -> Iterator[Path]:
    qdrant.close()
    settings.QDRANT_ENGINE = "edge"
    settings.QDRANT_PATH = str(tmp_path / "edge-index")
    yield tmp_path / "edge-index"
    qdrant.close()


def test_embedded_engine_search_acl_and_sync(
    engine: str, tmp_path: Path, ingest, member: User, outsider: User
) -> None:
    public, restricted = tmp_path / "kb", tmp_path / "kb" / "sre"
    restricted.mkdir(parents=True)
    (public / "pods.md").write_text(
        "# Pods\n\nA pod in CrashLoopBackOff: read kubectl logs --previous.\n"
    )
    (restricted / "vault.md").write_text(
        "# Vault\n\nThe unseal key holders are listed in the safe: KEYHOLDERS-7731.\n"
    )
    sre = ingest(restricted, "edge-sre", ["sre"]).source
    ingest(public, "edge-public")
    assert isinstance(qdrant.client(), EdgeStore) == (engine == "edge")
    assert retrieval.search(member, "unseal key holders KEYHOLDERS-7731", k=1)[0].path == "vault.md"
    assert all(
        h.source != "edge-sre"
        for h in retrieval.search(outsider, "unseal key holders KEYHOLDERS-7731", k=10)
    )
    hit = retrieval.search(outsider, "под в крашлупе", k=1)[0]
    assert hit.path == "pods.md" and hit.section == "Pods"
    again = ingest(restricted, "edge-sre", ["sre"])
    assert again.docs_skipped == 1 and chunks_of(sre) == 1
    (restricted / "vault.md").unlink()
    ingest(restricted, "edge-sre", ["sre"])
    assert chunks_of(sre) == 0


def test_edge_directory_is_locked_to_one_process(edge: Path, ingest, tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("# A\n\ntext\n")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("# A\n\ntext\n")
    ingest(tmp_path / "docs", "edge-lock")
    with pytest.raises(RuntimeError, match="already accessed"):
        EdgeStore(str(edge))  # a second opener, as another process would be
