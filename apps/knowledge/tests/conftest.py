"""Knowledge tests run against a real Qdrant in local mode, in a directory of their own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth.models import User

from apps.knowledge import actions
from apps.knowledge.models import IndexJob, Source
from apps.knowledge.store import qdrant


@pytest.fixture(scope="session", autouse=True)
def _qdrant_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    from django.conf import settings

    path = tmp_path_factory.mktemp("qdrant")
    qdrant.close()
    settings.QDRANT_URL = ""
    settings.QDRANT_PATH = str(path)
    settings.KNOWLEDGE_JOBS_INLINE = True
    yield path
    qdrant.close()


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
    return qdrant.count(qdrant.alias(), flt)


@pytest.fixture
def fetch_from_loopback(settings):
    """The test's HTTP servers listen on 127.0.0.1, an internal address sources may not
    fetch from by default: allowed here as an admin allows an intranet network."""
    from ipaddress import ip_network

    settings.KNOWLEDGE_FETCH_ALLOWED_NETWORKS = [ip_network("127.0.0.1/32")]
