"""Fixtures shared by every app's tests: an admin, a member, an outsider, and real services.

`make test` sets the environment (PostgreSQL, Redis, LDAP, LLM backends); the fixtures here
start what is cheap to start per session (slapd) and refuse to run against a missing service
rather than skip: a test that cannot fail is worth nothing.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.test import Client

ROOT = Path(__file__).resolve().parent


@pytest.fixture(scope="session", autouse=True)
def _static_files(django_db_blocker) -> None:
    """Pages reference hashed static names, as in production, so collect them once."""
    from django.core.management import call_command

    call_command("collectstatic", interactive=False, verbosity=0)


@pytest.fixture(autouse=True)
def _fresh_backend_view() -> None:
    """Routing keeps its view of the backends for a second; a test's rows and state are new."""
    from apps.inference import routing

    routing.forget()


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
