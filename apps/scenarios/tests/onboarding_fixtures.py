"""A team's knowledge source with onboarding tracks, indexed for real (embedded Qdrant),
and a local web server for the tracks' external links (200 and 404)."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from ipaddress import ip_network
from pathlib import Path
from typing import Any

import pytest

from apps.knowledge.models import Source

SRE_TRACK = """\
track: sre
title: SRE onboarding
groups: [sre]
leads: [sre-leads]
description: Your first two weeks on the SRE team.
steps:
  - title: Learn the on-call rota
    read:
      - "[On-call runbook](../runbooks/oncall.md)"
      - runbooks/gone.md
    verify: You are in the pager rota for next week
  - id: cluster-access
    title: Get read access to the cluster
    read: [access/k8s.md, "{base}/ok", "{base}/missing"]
    access: [LDAP group k8s-readers]
    verify: [kubectl get nodes lists the nodes]
  - title: Shadow an on-call shift
"""

DBA_TRACK = """\
---
track: dba
title: Онбординг DBA
groups: [dba]
leads: [dba-leads]
---
Две недели в команде баз данных.

## Доступ к PostgreSQL
Прочитать:
- [Доступы](access/k8s.md)
Доступ: группа pg-readers
Проверка:
- `psql -c 'select 1'` работает

## Прочитать про бэкапы
Read: runbooks/oncall.md
"""

BAD_TRACK = """\
track: broken
title: Broken track
steps:
  - title: Anything
"""

ONCALL = """\
# On-call runbook

## The rota

The SRE on-call rota changes every Monday at 10:00. Page the duty engineer through
PagerTree; if nobody answers in 15 minutes, escalate to the duty manager in #sre-oncall.
"""

K8S_ACCESS = """\
# Cluster access

## Requesting read access

Read access to the Kubernetes clusters is the LDAP group k8s-readers. Request it with the
IDM form ACC-42; your team lead approves it within a day.
"""

OTHER = """\
# Payroll on-call

The payroll team's on-call escalation goes to the finance duty phone 7731.
"""


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        status = 200 if self.path.startswith("/ok") else 404
        body = b"<html><body>fine</body></html>" if status == 200 else b"not found"
        self.send_response(status)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def link_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@dataclass
class TeamKB:
    root: Path
    source: Source
    other: Source
    base: str

    def sync(self, admin: Any) -> None:
        from apps.knowledge import actions

        actions.start_job(admin, self.source, wait=True)


@pytest.fixture
def team_kb(tmp_path: Path, settings: Any, admin_user: Any, link_server: str) -> Iterator[TeamKB]:
    """The team's source (tagged onboarding) with two tracks and a broken one, and another
    team's source everyone may read; the local web server is an allowed network here."""
    from apps.knowledge import actions
    from apps.knowledge.store import qdrant

    qdrant.close()
    settings.QDRANT_URL = ""
    settings.QDRANT_PATH = str(tmp_path / "qdrant")
    settings.KNOWLEDGE_JOBS_INLINE = True
    settings.KNOWLEDGE_FETCH_ALLOWED_NETWORKS = [ip_network("127.0.0.1/32")]
    root = tmp_path / "team"
    for name, text in {
        "runbooks/oncall.md": ONCALL,
        "access/k8s.md": K8S_ACCESS,
        "tracks/sre.track.yaml": SRE_TRACK.format(base=link_server),
        "tracks/dba.track.md": DBA_TRACK,
        "tracks/bad.track.yaml": BAD_TRACK,
    }.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    other_root = tmp_path / "payroll"
    other_root.mkdir()
    (other_root / "payroll-oncall.md").write_text(OTHER)
    other = actions.ingest_directory(admin_user, other_root, "payroll", []).source
    job = actions.ingest_directory(admin_user, root, "team", [])
    source = job.source
    source.tags = ["onboarding"]
    source.save(update_fields=["tags"])
    yield TeamKB(root, source, other, link_server)
    qdrant.close()
