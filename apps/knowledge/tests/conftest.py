"""Knowledge tests run against a real Qdrant in local mode, in a directory of their own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth.models import User

from apps.knowledge import actions, index
from apps.knowledge.models import IndexJob, Source


@pytest.fixture(scope="session", autouse=True)
def _qdrant_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    from django.conf import settings

    path = tmp_path_factory.mktemp("qdrant")
    index.close()
    settings.QDRANT_URL = ""
    settings.QDRANT_PATH = str(path)
    settings.KNOWLEDGE_JOBS_INLINE = True
    yield path
    index.close()


@pytest.fixture(autouse=True)
def _close_thread_connections() -> Iterator[None]:
    """Async views use Django's sync thread: let the test database be dropped afterwards."""
    yield
    from asgiref.sync import SyncToAsync
    from django.db import connections

    executor = SyncToAsync.single_thread_executor
    if executor is not None:
        executor.submit(connections.close_all).result()


@pytest.fixture
def ingest(admin_user: User):
    """Index a directory as a source and wait, like `knowledge ingest`."""

    def run(path: Path, name: str, groups: list[str] | None = None) -> IndexJob:
        return actions.ingest_directory(admin_user, path, name, groups or [])

    return run


def chunks_of(source: Source) -> int:
    from qdrant_client import models as qm

    flt = qm.Filter(must=[qm.FieldCondition(key="source_id", match=qm.MatchValue(value=source.pk))])
    return index.count(index.alias(), flt)
