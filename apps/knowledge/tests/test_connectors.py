"""Git and web connectors against real local services: a git repository made here and a
local HTTP server."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from django.contrib.auth.models import User

from apps.knowledge import actions
from apps.knowledge.models import IndexJob, Source
from apps.knowledge.search import retrieval
from apps.knowledge.tests.conftest import chunks_of
from apps.knowledge.tests.httpfixture import serve

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fetch_from_loopback")]


def git(repo: Path, *args: str) -> str:
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.org",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.org",
        "PATH": "/usr/bin:/bin",
    }
    return subprocess.run(
        ["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True
    ).stdout.strip()


def test_git_repository_versions_links_and_updates(tmp_path: Path, admin_user: User) -> None:
    repo = tmp_path / "runbooks"
    (repo / "docs").mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    (repo / "docs" / "redis.md").write_text(
        "# Redis memory high\n\nCheck evictions with INFO stats and raise maxmemory.\n"
    )
    (repo / "docs" / "nginx.md").write_text(
        "# Nginx 5xx\n\nLook at upstream timeouts in the error log.\n"
    )
    (repo / "README.txt").write_text("not under docs/\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "first")
    first = git(repo, "rev-parse", "HEAD")
    source = actions.save_source(
        admin_user,
        name="git-runbooks",
        type=Source.Type.GIT,
        groups=[],
        settings={
            "url": str(repo),
            "branch": "main",
            "include": ["docs/*.md"],
            "web_url": "https://git.example/ops/runbooks/-/blob/{commit}/{path}",
        },
    )
    job = actions.start_job(admin_user, source, wait=True)
    job.refresh_from_db()
    assert job.state == IndexJob.State.DONE, job.message
    docs = {d.path: d for d in source.documents.all()}
    assert set(docs) == {"docs/redis.md", "docs/nginx.md"}
    assert docs["docs/redis.md"].version == first
    hit = retrieval.search(admin_user, "redis evictions maxmemory", k=1)[0]
    assert (
        hit.version == first
        and hit.link == f"https://git.example/ops/runbooks/-/blob/{first}/docs/redis.md"
    )

    (repo / "docs" / "redis.md").write_text(
        "# Redis memory high\n\nNew advice: check the biggest keys with --bigkeys.\n"
    )
    git(repo, "rm", "-q", "docs/nginx.md")
    git(repo, "commit", "-qam", "second")
    second = git(repo, "rev-parse", "HEAD")
    job = actions.start_job(admin_user, source, wait=True)
    job.refresh_from_db()
    assert job.state == IndexJob.State.DONE and job.docs_removed == 1
    redis = source.documents.get(path="docs/redis.md")
    assert redis.version == second and chunks_of(source) == redis.chunk_count
    assert "bigkeys" in retrieval.search(admin_user, "redis bigkeys", k=1)[0].text


def test_git_bad_url_fails_the_job_with_git_message(admin_user: User, tmp_path: Path) -> None:
    source = actions.save_source(
        admin_user,
        name="bad-git",
        type=Source.Type.GIT,
        groups=[],
        settings={"url": str(tmp_path / "missing")},
    )
    job = actions.start_job(admin_user, source, wait=True)
    job.refresh_from_db()
    assert job.state == IndexJob.State.FAILED
    assert "git fetch failed" in job.message and "not appear to be a git repo" in job.message


PAGES = {
    "/guide/": (
        "text/html",
        b"<html><head><title>Ingress guide</title></head><body><h1>Ingress</h1><h2>Timeouts</h2><p>Raise proxy-read-timeout on the ingress when uploads are slow.</p></body></html>",
    ),
    "/faq.txt": ("text/plain", b"FAQ\n===\n\nThe bastion host is bastion.example.\n"),
}


def route(handler):
    if handler.path == "/sitemap.xml":
        base = f"http://{handler.headers['Host']}"
        urls = "".join(
            f"<url><loc>{base}{p}</loc><lastmod>2025-01-0{n}</lastmod></url>"
            for n, p in enumerate([*PAGES, "/gone"], start=1)
        )
        body = f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'
        return 200, "application/xml", body.encode()
    if handler.path in PAGES:
        content_type, page = PAGES[handler.path]
        return 200, content_type, page
    return 404, "text/plain", b"not found"


def test_web_sitemap_pages_indexed_and_a_missing_page_is_an_error(admin_user: User) -> None:
    with serve(route) as (base, seen):
        source = actions.save_source(
            admin_user,
            name="web",
            type=Source.Type.WEB,
            groups=["sre"],
            settings={"url": f"{base}/sitemap.xml", "sitemap": True},
            secrets={"token": "web-token-1"},
        )
        job = actions.start_job(admin_user, source, wait=True)
    job.refresh_from_db()
    assert job.state == IndexJob.State.DONE
    assert [e["error"] for e in job.errors] == [f"HTTP 404 from {base}/gone"]
    hit = retrieval.search(admin_user, "ingress proxy-read-timeout uploads", k=1)[0]
    assert (
        hit.title == "Ingress guide"
        and hit.section == "Ingress > Timeouts"
        and hit.link == f"{base}/guide/"
    )
    assert source.documents.get(external_id=f"{base}/faq.txt").version == "2025-01-02"
    assert all(h.headers["Authorization"] == "Bearer web-token-1" for h in seen)


def test_web_single_page(admin_user: User) -> None:
    with serve(route) as (base, _):
        source = actions.save_source(
            admin_user,
            name="one-page",
            type=Source.Type.WEB,
            groups=[],
            settings={"url": f"{base}/faq.txt"},
        )
        job = actions.start_job(admin_user, source, wait=True)
    job.refresh_from_db()
    assert job.state == IndexJob.State.DONE and source.documents.get().title == "FAQ"
