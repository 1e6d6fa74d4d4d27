"""Fixtures shared by the scenario tests: real redis-server instances for the Redis scenario,
started once per session on their own ports; alert triage's own (alert_fixtures.py); a Git
source of nginx configs for the pages."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User

from apps.knowledge.models import Source
from apps.knowledge.tests.test_gitfiles import make_repo, synced_source
from apps.scenarios.tests.alert_fixtures import (  # noqa: F401  (fixtures)
    _alert_state,
    _runbook_index,
    alert_token,
    chat_recorder,
    inline_jobs,
    runbook_kb,
)
from apps.scenarios.tests.onboarding_fixtures import link_server, team_kb  # noqa: F401
from apps.scenarios.tests.redis_servers import RedisServer, make_trouble, running


@pytest.fixture(scope="session")
def troubled_redis() -> Iterator[tuple[RedisServer, dict[str, Any]]]:
    """100k keys read with KEYS, a 200k-field hash read with HGETALL, a slow EVAL loop, and
    maxmemory reached with noeviction so that writes were refused with OOM."""
    # KEYS over 100k keys takes several milliseconds even on a fast idle machine.
    slow = ("--slowlog-log-slower-than", "2000", "--slowlog-max-len", "10000")
    with running("--latency-monitor-threshold", "1", *slow) as server:
        yield server, make_trouble(server)


@pytest.fixture(scope="session")
def healthy_redis() -> Iterator[RedisServer]:
    """A cache as it should be: a memory limit, an evicting policy, light use."""
    with running("--maxmemory", "256mb", "--maxmemory-policy", "allkeys-lru") as server:
        r = server.client()
        r.mset({f"user:{i}": "x" * 50 for i in range(1000)})
        pipe = r.pipeline(transaction=False)
        for i in range(20_000):
            pipe.get(f"user:{i % 1000}")
        pipe.execute()
        yield server


@pytest.fixture
def configs_repo(tmp_path: Path, settings: Any) -> Path:
    """A Git repository of nginx configs (knowledge's test_gitfiles.make_repo); the source's
    bare clone goes to this test's own var directory."""
    settings.VAR_DIR = tmp_path / "var"
    return make_repo(tmp_path)


@pytest.fixture
def configs_source(configs_repo: Path, admin_user: User) -> Source:
    """configs_repo as a synced Git source that the sre group may read."""
    return synced_source(admin_user, configs_repo)
