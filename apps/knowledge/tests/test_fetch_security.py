"""Sources fetch nothing internal: web, Confluence and Git URLs on loopback, link-local
(metadata), private or reserved addresses are refused after DNS, on every redirect and
against DNS rebinding; directory sources stay under KNOWLEDGE_DIRECTORY_ROOTS."""

from __future__ import annotations

import os
import socket
from ipaddress import ip_network
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from apps.knowledge import actions
from apps.knowledge.ingest.connectors import netguard
from apps.knowledge.models import IndexJob, Source
from apps.knowledge.search import retrieval
from apps.knowledge.tests.httpfixture import serve
from apps.knowledge.tests.test_connectors import git
from conftest import live_root

pytestmark = pytest.mark.django_db

CANARY = "internal-only-canary-5521"


def _page(handler: Any) -> tuple[int, str, bytes]:
    return 200, "text/plain", f"Internal\n========\n\n{CANARY} redis_connected_clients 7\n".encode()


def _run(admin: User, kind: str, settings: dict[str, Any], name: str = "src") -> IndexJob:
    Source.objects.filter(name=name).delete()
    source = actions.save_source(admin, name=name, type=kind, groups=[], settings=settings)
    job = actions.start_job(admin, source, wait=True)
    job.refresh_from_db()
    return job


def _refusal(job: IndexJob) -> str:
    """What the job said about the refused URL: its failure, or the document's error."""
    return job.message + " ".join(e["error"] for e in job.errors)


def _found(user: User) -> str:
    return " ".join(h.text for h in retrieval.search(user, f"{CANARY} redis", k=10))


INTERNAL_HOSTS = [
    ("localhost", "loopback"),
    ("127.0.0.1", "loopback"),
    ("127.1", "loopback"),
    ("2130706433", "loopback"),  # 127.0.0.1 written as one number
    ("0x7f.0.0.1", "loopback"),
    ("0.0.0.0", "reserved"),  # noqa: S104  (the local host on Linux)
    ("[::1]", "loopback"),
    ("[::ffff:127.0.0.1]", "loopback"),
    ("[64:ff9b::7f00:1]", "loopback"),  # NAT64 of 127.0.0.1
    ("[2002:7f00:1::1]", "loopback"),  # 6to4 of 127.0.0.1
    ("169.254.169.254", "link-local"),  # cloud metadata
    ("[fd00:ec2::254]", "private"),  # cloud metadata over IPv6
    ("100.100.100.200", "private"),  # metadata in the shared (carrier) range
    ("10.1.2.3", "private"),
    ("172.16.0.1", "private"),
    ("192.168.0.1", "private"),
    ("224.0.0.1", "multicast"),
]


@pytest.mark.parametrize(("host", "kind"), INTERNAL_HOSTS)
def test_internal_addresses_are_refused_after_resolution(host: str, kind: str) -> None:
    with pytest.raises(netguard.AddressRefused, match=kind):
        netguard.checked_addresses(host, 80)


def test_public_addresses_pass() -> None:
    assert netguard.checked_addresses("93.184.215.14", 443) == ["93.184.215.14"]
    assert netguard.checked_addresses("[2606:4700::1]", 443) == ["2606:4700::1"]


def test_web_source_cannot_read_loopback_services(admin_user: User, member: User) -> None:
    """The model server's /metrics and Redis, as in the report, and a local page."""
    with serve(_page) as (base, seen):
        for url in [f"{live_root()}/metrics", "http://127.0.0.1:6379/", f"{base}/metrics"]:
            job = _run(admin_user, Source.Type.WEB, {"url": url})
            assert "loopback" in _refusal(job), (url, _refusal(job))
            job = _run(admin_user, Source.Type.WEB, {"url": url, "sitemap": True})
            assert job.state == IndexJob.State.FAILED and "loopback" in job.message
        host_url = base.replace("127.0.0.1", "localhost")
        assert "loopback" in _refusal(_run(admin_user, Source.Type.WEB, {"url": host_url}))
    assert seen == []  # not one request reached the server
    assert CANARY not in _found(member)


def test_allowlisted_network_is_fetched_but_a_redirect_out_of_it_is_not(
    admin_user: User, settings: Any
) -> None:
    settings.KNOWLEDGE_FETCH_ALLOWED_NETWORKS = [ip_network("127.0.0.1/32")]
    with serve(_page, host="127.0.0.2") as (secret_base, secret_seen):

        def route(handler: Any) -> tuple[int, str, bytes]:
            if handler.path == "/go":
                return 302, "text/plain", f"{secret_base}/metrics".encode()
            if handler.path == "/meta":
                return 301, "text/plain", b"http://169.254.169.254/latest/meta-data/"
            return 200, "text/plain", b"Allowed page\n============\n\nintranet notes\n"

        with serve(route) as (base, _):
            assert _run(admin_user, Source.Type.WEB, {"url": f"{base}/ok.txt"}).errors == []
            for path in ("/go", "/meta"):
                job = _run(admin_user, Source.Type.WEB, {"url": f"{base}{path}"})
                assert "KNOWLEDGE_FETCH_ALLOWED_NETWORKS" in _refusal(job), _refusal(job)
    assert secret_seen == []
    assert CANARY not in _found(admin_user)


def test_dns_rebinding_connects_to_the_checked_address(
    admin_user: User, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hostile DNS server answers an allowed address first and an internal one after:
    the connection goes to the address that was checked, never to a second answer."""
    settings.KNOWLEDGE_FETCH_ALLOWED_NETWORKS = [ip_network("127.0.0.1/32")]
    real = socket.getaddrinfo
    answers: list[str] = []

    def rebinding(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "rebind.test":
            answers.append("127.0.0.1" if not answers else "127.0.0.2")
            return real(answers[-1], *args, **kwargs)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    with (
        serve(_page, host="127.0.0.2") as (secret_base, secret_seen),
        serve(lambda h: (200, "text/plain", b"Public\n======\n\nfine\n")) as (base, seen),
    ):
        port = base.rsplit(":", 1)[1]
        job = _run(admin_user, Source.Type.WEB, {"url": f"http://rebind.test:{port}/p.txt"})
    assert job.errors == [] and len(seen) == 1 and secret_seen == []
    assert answers == ["127.0.0.1"]  # resolved once, for the check and the connection


def test_confluence_and_git_over_http_are_refused_too(admin_user: User, settings: Any) -> None:
    settings.KNOWLEDGE_GIT_PROTOCOLS = ["https", "http", "ssh"]
    with serve(_page) as (base, seen):
        job = _run(admin_user, Source.Type.CONFLUENCE, {"url": base, "spaces": ["OPS"]})
        assert job.state == IndexJob.State.FAILED and "loopback" in job.message, job.message
        for url in [f"{base}/repo.git", "ssh://git@localhost/ops.git", "git@127.0.0.1:ops.git"]:
            job = _run(admin_user, Source.Type.GIT, {"url": url}, name="g")
            assert job.state == IndexJob.State.FAILED and "loopback" in job.message, job.message
    assert seen == []


def test_forms_refuse_internal_and_non_http_urls_naming_the_field(admin_client: Client) -> None:
    base = {"name": "w", "enabled": "on"}
    for kind, url in [
        ("web", "http://127.0.0.1:6379/"),
        ("web", "http://169.254.169.254/latest/meta-data/"),
        ("web", "file:///etc/passwd"),
        ("web", "gopher://127.0.0.1:6379/_INFO"),
        ("web", "https://user:pw@docs.example/"),
        ("confluence", "http://localhost:8090/"),
        ("git", "http://127.0.0.1:3000/ops.git"),
    ]:
        data = base | {"type": kind, "url": url, "spaces": "OPS"}
        response = admin_client.post(reverse("knowledge_console:source_new"), data)
        assert response.status_code == 200, url
        assert "url" in response.context["form"].errors, url
    assert not Source.objects.exists()


def test_directory_sources_stay_under_the_configured_roots(
    admin_user: User, admin_client: Client, tmp_path: Path, settings: Any
) -> None:
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    (allowed / "ok.md").write_text("# OK\n\nfine\n")
    os.symlink("/etc", allowed / "etc-link")
    settings.KNOWLEDGE_DIRECTORY_ROOTS = [allowed.resolve()]
    hostile = ["/etc", f"{allowed}/../../../etc", f"{allowed}/etc-link", "~/", str(tmp_path)]
    for path in hostile:
        data = {"name": "d", "type": "directory", "path": path, "enabled": "on"}
        response = admin_client.post(reverse("knowledge_console:source_new"), data)
        assert "path" in response.context["form"].errors, path
        # Stored some other way (CLI, the database): the job refuses it.
        job = _run(admin_user, Source.Type.DIRECTORY, {"path": path})
        assert job.state == IndexJob.State.FAILED, path
        assert "KNOWLEDGE_DIRECTORY_ROOTS" in job.message, job.message
    assert _run(admin_user, Source.Type.DIRECTORY, {"path": str(allowed)}).state == "done"


def test_local_git_repositories_stay_under_the_roots_too(
    admin_user: User, tmp_path: Path, settings: Any
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "a.md").write_text("# A\n\nx\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "x")
    settings.KNOWLEDGE_DIRECTORY_ROOTS = [(tmp_path / "elsewhere").resolve()]
    for url in [str(repo), f"file://{repo}"]:
        job = _run(admin_user, Source.Type.GIT, {"url": url})
        assert job.state == IndexJob.State.FAILED and "KNOWLEDGE_DIRECTORY_ROOTS" in job.message
