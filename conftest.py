"""Fixtures shared by every app's tests: an admin, a member, an outsider, and real services.

`make test` sets the environment (PostgreSQL, Redis, LDAP, LLM backends); the fixtures here
start what is cheap to start per session (slapd) and refuse to run against a missing service
rather than skip: a test that cannot fail is worth nothing. `portal` runs the portal under
uvicorn for browser and multi-worker tests.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.test import Client

from common.testing import engine, model_server_report
from common.testing import free_port as _free_port

ROOT = Path(__file__).resolve().parent


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests marked both_engines run once per `make test` invocation, on that invocation's
    engine, which their id names: test_x[postgresql], then test_x[sqlite]."""
    if metafunc.definition.get_closest_marker("both_engines"):
        metafunc.parametrize("db_engine", [engine()], ids=[engine()])


@pytest.fixture(autouse=True)
def db_engine() -> str:
    # Autouse so that the parametrization above can name it in any marked test.
    return engine()


@pytest.fixture(scope="session", autouse=True)
def _static_files(django_db_blocker) -> None:
    """Pages reference hashed static names, as in production, so collect them once."""
    from django.core.management import call_command

    call_command("collectstatic", interactive=False, verbosity=0)


@pytest.fixture(scope="session", autouse=True)
def _directory_roots(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Tests index directories they make under pytest's temporary base: a directory root
    (KNOWLEDGE_DIRECTORY_ROOTS) beside the demo's, as an operator would add their own."""
    base = tmp_path_factory.getbasetemp().resolve()
    settings.KNOWLEDGE_DIRECTORY_ROOTS = [*settings.KNOWLEDGE_DIRECTORY_ROOTS, base]


@pytest.fixture(autouse=True)
def _fresh_backend_view() -> None:
    """Routing keeps its view of the backends for a second; a test's rows and state are new."""
    from apps.inference import routing

    routing.forget()


@pytest.fixture(autouse=True)
def _default_language() -> None:
    """The language middleware leaves a request's language active in its thread (every
    request sets its own); each test starts in the portal's default, as a request without
    the cookie would, whatever language the test before it asked for."""
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture(autouse=True)
def _fresh_glossary() -> None:
    """The glossary is kept in memory for half a minute; a test that saved another one rolled
    its rows back, and the next test must read the glossary its database holds."""
    from apps.knowledge.search import glossary

    glossary.invalidate()


@pytest.fixture(scope="session")
def ldap_server() -> Iterator[str]:
    """A throwaway slapd with deploy/dev/ldap/seed.ldif, started fresh for the session."""
    uri = os.environ.get("LDAP_SERVER_URI")
    if not uri:
        pytest.fail("LDAP_SERVER_URI is not set: run the suite with `make test`")
    script = ROOT / "deploy/dev/ldap/slapd.sh"
    subprocess.run(["bash", str(script), "start"], check=True, capture_output=True)
    yield uri
    subprocess.run(["bash", str(script), "stop"], check=False, capture_output=True)


@pytest.fixture
def member(db) -> User:
    """A signed-in engineer in the `sre` group."""
    user = User.objects.create_user("member", password="member-pass-123")
    user.groups.add(Group.objects.get_or_create(name="sre")[0])
    return user


@pytest.fixture
def outsider(db) -> User:
    """Signed in, but in no group and not an admin."""
    return User.objects.create_user("outsider", password="outsider-pass-123")


@pytest.fixture
def member_client(member: User) -> Client:
    client = Client()
    client.force_login(member)
    return client


@pytest.fixture
def outsider_client(outsider: User) -> Client:
    client = Client()
    client.force_login(outsider)
    return client


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """How busy and fast the dev model server was over the run, printed at the end: a test
    that timed out waiting on the model is then read against the server's real speed."""
    entry = next(
        (b for b in getattr(settings, "LLM_BACKENDS", []) if b["name"] == "cpu-live"), None
    )
    if entry is not None:
        terminalreporter.write_line(model_server_report(str(entry["url"]).removesuffix("/v1")))


def live_root() -> str:
    """Base URL (without /v1) of the live dev model server named cpu-live in LLM_BACKENDS."""
    entry = next((b for b in settings.LLM_BACKENDS if b["name"] == "cpu-live"), None)
    if entry is None:
        pytest.fail("LLM_BACKENDS lacks cpu-live: run the suite with `make test`")
    return str(entry["url"]).removesuffix("/v1")


@pytest.fixture(scope="session")
def vllm() -> str:
    """The real dev vLLM server must answer; a missing one fails the test instead of skipping."""
    root = live_root()
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{root}/health", timeout=2).status_code == 200:
                return root
        except httpx.HTTPError:
            pass
        time.sleep(3)
    pytest.fail(f"no vLLM server answers at {root}: run `make llm`")


@pytest.fixture
def own_index(tmp_path: Path, settings: Any) -> Iterator[None]:
    """A Qdrant of this test's own (embedded, under tmp_path), indexed in the calling process."""
    from apps.knowledge.store import qdrant

    qdrant.close()
    settings.QDRANT_URL = ""
    settings.QDRANT_PATH = str(tmp_path / "qdrant")
    settings.KNOWLEDGE_JOBS_INLINE = True
    yield
    qdrant.close()


@pytest.fixture
def knowledge_base(tmp_path: Path, own_index: None, admin_user: Any) -> None:
    """Two indexed sources in a Qdrant of this test's own: one for everyone, one for secops."""
    from apps.knowledge import actions

    public, secret = tmp_path / "runbooks", tmp_path / "secops"
    public.mkdir()
    secret.mkdir()
    (public / "kafka-lag.md").write_text(
        "# Kafka consumer lag\n\n## Fixing lag on the billing topic\n\n"
        "When the billing-sink consumer group lags on the billing topic, restart it with "
        "`kubectl rollout restart deploy/billing-sink -n billing`, then watch the lag with "
        "`kafka-consumer-groups --describe --group billing-sink`.\n"
    )
    (secret / "break-glass.md").write_text(
        "# Break-glass access for Kafka\n\n## Consumer lag emergencies\n\n"
        "For Kafka consumer lag on the billing topic that restarts do not fix, the secops "
        "break-glass account kafka-root may reset offsets.\n"
    )
    actions.ingest_directory(admin_user, public, "runbooks", [])
    actions.ingest_directory(admin_user, secret, "secops-only", ["secops"])


@pytest.fixture
def portal(transactional_db: None, vllm: str) -> Iterator[str]:
    """The portal under uvicorn, as in production, on the test database."""
    from common.testing import database_url

    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "DJANGO_SETTINGS_MODULE": "portal.settings",
    }
    log = open(Path(settings.VAR_DIR) / "browser-portal.log", "w")  # noqa: SIM115
    command = [sys.executable, "-m", "uvicorn", "portal.asgi:application", "--port", str(port)]
    server = subprocess.Popen(
        [*command, "--host", "127.0.0.1", "--ws", "websockets-sansio", "--log-level", "warning"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the portal did not start; see {log.name}")
            time.sleep(0.3)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()
