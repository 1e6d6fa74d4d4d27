"""Fixtures of the alert-triage tests: a small knowledge base of the demo's own runbooks and
post-mortem in a Qdrant of the test's own, webhook tokens, and helpers to post payloads."""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

DATA = Path(__file__).resolve().parent / "data"
DEMO = Path(settings.BASE_DIR) / "samples" / "knowledge"
KB_FILES = (
    "runbooks/KubePodCrashLooping.md",
    "runbooks/CephOSDNearFull.md",
    "runbooks/NodeFilesystemAlmostOutOfSpace.md",
    "postmortems/2024-11-ceph-nearfull.md",
)
# A runbook only the sre group may read: the triage must not quote it unless allowed to.
RESTRICTED_RUNBOOK = """# VaultSealed: Vault запечатан

## Что это значит

Частые причины:

1. Перезапуск пода vault-0 без auto-unseal.
2. Истёк токен транзитного ключа.

## Диагностика

### 1. Статус

```bash
vault status
```
"""


def recorded(name: str) -> dict[str, Any]:
    """A webhook body as a real sender produced it (see tests/data)."""
    return json.loads((DATA / name).read_text())


def alert_payload(
    *alerts: dict[str, Any], status: str = "firing", receiver: str = "opsdesk"
) -> dict[str, Any]:
    """An Alertmanager v4 body around `alerts` (each: labels, annotations, startsAt…)."""
    return {
        "version": "4",
        "receiver": receiver,
        "status": status,
        "groupKey": '{}:{alertname="test"}',
        "truncatedAlerts": 0,
        "groupLabels": {},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.test:9093",
        "alerts": [copy.deepcopy(a) for a in alerts],
    }


def one_alert(
    name: str = "KubePodCrashLooping",
    status: str = "firing",
    starts: datetime | None = None,
    **labels: str,
) -> dict[str, Any]:
    started = starts or datetime.now(UTC) - timedelta(minutes=3)
    return {
        "status": status,
        "labels": {"alertname": name, "severity": "warning", **labels},
        "annotations": {"summary": f"{name} on {labels.get('pod', 'a pod')}"},
        "startsAt": started.isoformat().replace("+00:00", "Z"),
        "endsAt": (
            datetime.now(UTC).isoformat().replace("+00:00", "Z")
            if status == "resolved"
            else "0001-01-01T00:00:00Z"
        ),
        "generatorURL": "http://prometheus.test:9090/graph?g0.expr=up",
    }


def post(client: Client, body: Any, token: str | None, **extra: Any) -> Any:
    data = body if isinstance(body, bytes | str) else json.dumps(body)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post(
        "/hooks/alertmanager/", data=data, content_type="application/json", headers=headers, **extra
    )


@pytest.fixture
def alert_token(transactional_db: None) -> str:
    from apps.scenarios.alert_triage import tokens

    _row, raw = tokens.create("alertmanager-test", actor_name="test")
    return raw


@pytest.fixture
def inline_jobs(settings: Any) -> None:
    settings.ALERT_JOBS_INLINE = True


@pytest.fixture(autouse=True)
def _alert_state() -> Iterator[None]:
    """Process-wide caches and the webhook's database threads start and end clean."""
    from apps.scenarios.alert_triage import lookup, receiver, tokens

    lookup.cache.clear()
    tokens.forget()
    yield
    lookup.cache.clear()
    tokens.forget()
    receiver.close_connections()
    from asgiref.sync import SyncToAsync
    from django.db import connections

    executor = SyncToAsync.single_thread_executor
    if executor is not None:
        executor.submit(connections.close_all).result()


@pytest.fixture(scope="session")
def _runbook_index(
    tmp_path_factory: pytest.TempPathFactory, django_db_setup: None, django_db_blocker: Any
) -> Iterator[dict[str, Any]]:
    """Index once per session (embedding is the slow part on two shared cores), keep the rows
    it made, and take them out of the database again: each test puts them back."""
    from django.conf import settings as live

    from apps.knowledge import actions
    from apps.knowledge.models import Collection, Document, IndexJob, Source
    from apps.knowledge.store import qdrant

    root = tmp_path_factory.mktemp("alert-kb")
    public = root / "kb"
    for rel in KB_FILES:
        target = public / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(DEMO / rel, target)
    restricted = root / "sre"
    (restricted / "runbooks").mkdir(parents=True)
    (restricted / "runbooks" / "VaultSealed.md").write_text(RESTRICTED_RUNBOOK)
    saved = (live.QDRANT_URL, live.QDRANT_PATH, live.KNOWLEDGE_JOBS_INLINE)
    qdrant.close()
    live.QDRANT_URL, live.QDRANT_PATH, live.KNOWLEDGE_JOBS_INLINE = "", str(root / "qdrant"), True
    try:
        with django_db_blocker.unblock():
            from django.contrib.auth.models import Group

            from apps.accounts.models import AuditEvent

            groups_before = set(Group.objects.values_list("pk", flat=True))
            audit_before = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first()
            jobs = [
                actions.ingest_directory(None, public, "Runbooks", []),
                actions.ingest_directory(None, restricted, "SRE runbooks", ["sre"]),
            ]
            assert all(j.state == "done" and not j.errors for j in jobs), [j.errors for j in jobs]
            ids = [j.source_id for j in jobs]
            snapshot = {
                "qdrant": str(root / "qdrant"),
                "sources": [
                    (row, groups)
                    for row, groups in (
                        (
                            dict(Source.objects.filter(pk=pk).values()[0]),
                            Source.objects.get(pk=pk).group_names(),
                        )
                        for pk in ids
                    )
                ],
                "documents": list(Document.objects.filter(source_id__in=ids).values()),
                "collections": list(Collection.objects.values()),
            }
            IndexJob.objects.filter(source_id__in=ids).delete()
            Document.objects.filter(source_id__in=ids).delete()
            Source.objects.filter(pk__in=ids).delete()
            Collection.objects.all().delete()
            # Leave the database as other tests expect it: no groups or audit rows of ours.
            Group.objects.exclude(pk__in=groups_before).delete()
            AuditEvent.objects.filter(pk__gt=audit_before or 0).delete()
    finally:
        qdrant.close()
        live.QDRANT_URL, live.QDRANT_PATH, live.KNOWLEDGE_JOBS_INLINE = saved
    yield snapshot


@pytest.fixture
def runbook_kb(_runbook_index: dict[str, Any], settings: Any, db: None) -> Iterator[None]:
    """The demo's runbooks and post-mortem as a public source ("Runbooks"), a restricted
    runbook as an sre-only source ("SRE runbooks"), indexed once per session."""
    from django.contrib.auth.models import Group
    from django.core.management.color import no_style
    from django.db import connection

    from apps.knowledge.models import Collection, Document, Source
    from apps.knowledge.store import qdrant

    qdrant.close()
    settings.QDRANT_URL = ""
    settings.QDRANT_PATH = _runbook_index["qdrant"]
    settings.KNOWLEDGE_JOBS_INLINE = True
    for row, groups in _runbook_index["sources"]:
        source = Source.objects.create(**row)
        source.allowed_groups.set([Group.objects.get_or_create(name=g)[0] for g in groups])
    Document.objects.bulk_create(Document(**d) for d in _runbook_index["documents"])
    Collection.objects.bulk_create(Collection(**c) for c in _runbook_index["collections"])
    # Rows came back with their old ids: move the sequences past them.
    with connection.cursor() as cursor:
        for sql in connection.ops.sequence_reset_sql(no_style(), [Source, Document, Collection]):
            cursor.execute(sql)
    yield
    qdrant.close()


class ChatRecorder:
    """A local HTTP server in place of a Mattermost or Slack incoming webhook: records each
    POST (headers, JSON body, time) and answers from a script of statuses (then 200 "ok")."""

    def __init__(self) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.posts: list[dict[str, Any]] = []
        self.script: list[tuple[int, dict[str, str]]] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802  (the stdlib's name)
                import time

                size = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(size)
                recorder.posts.append(
                    {
                        "path": self.path,
                        "headers": dict(self.headers),
                        "body": json.loads(raw),
                        "at": time.monotonic(),
                    }
                )
                status, headers = recorder.script.pop(0) if recorder.script else (200, {})
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok" if status == 200 else b"invalid_payload")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def chat_recorder() -> Iterator[ChatRecorder]:
    recorder = ChatRecorder()
    yield recorder
    recorder.close()
