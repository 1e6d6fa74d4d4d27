"""Git sources against hostile input: options in the branch or URL, hooks and config from the
portal's environment, symbolic links committed to the repository."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import translation

from apps.knowledge import actions
from apps.knowledge.ingest.connectors import gitrun
from apps.knowledge.models import IndexJob, Source
from apps.knowledge.search import retrieval
from apps.knowledge.tests.test_connectors import git

pytestmark = pytest.mark.django_db


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = tmp_path / "runbooks"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "ceph.md").write_text("# Ceph OSD down\n\nMark the OSD out and replace its disk.\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "first")
    return repo


def _source(admin: User, url: str, branch: str = "main") -> Source:
    return actions.save_source(
        admin,
        name="git-src",
        type=Source.Type.GIT,
        groups=[],
        settings={"url": url, "branch": branch},
    )


def _sync(client: Client, source: Source, capture) -> IndexJob:
    """Press "Sync now" in the console, as the admin does."""
    with capture(execute=True):
        response = client.post(reverse("knowledge_console:source_action", args=[source.pk, "sync"]))
    assert response.status_code == 302
    return IndexJob.objects.filter(source=source).latest("pk")


def _hostile_branches(pwned: Path) -> list[str]:
    return [
        f"--upload-pack=touch {pwned};",
        f"--upload-pack=touch${{IFS}}{pwned}",
        f"-utouch {pwned}",
        f"main --upload-pack=touch {pwned}",
        f"$(touch {pwned})",
        f"`touch {pwned}`",
        f"main;touch {pwned}",
        "main\n--upload-pack=touch",
        "../../etc",
        "main@{-1}",
    ]


def test_hostile_branch_on_sync_now_runs_nothing(
    admin_user: User,
    admin_client: Client,
    repo: Path,
    tmp_path: Path,
    django_capture_on_commit_callbacks,
) -> None:
    pwned = tmp_path / "PWNED"
    admin_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"  # the job says it in English
    source = _source(admin_user, str(repo))
    assert _sync(admin_client, source, django_capture_on_commit_callbacks).state == "done"
    for branch in _hostile_branches(pwned):
        # Stored without the form (CLI, an older version, the database): the connector
        # checks again before git runs.
        source.settings = {"url": str(repo), "branch": branch}
        source.save(update_fields=["settings"])
        job = _sync(admin_client, source, django_capture_on_commit_callbacks)
        assert job.state == IndexJob.State.FAILED, branch
        assert "not a valid branch or tag name" in job.message, (branch, job.message)
        assert not pwned.exists(), branch
    # The index still holds the last good sync.
    assert source.documents.get().path == "ceph.md"


def test_hostile_url_runs_nothing(
    admin_user: User, admin_client: Client, tmp_path: Path, django_capture_on_commit_callbacks
) -> None:
    pwned = tmp_path / "PWNED"
    for url in [
        f"--upload-pack=touch {pwned}",
        f"-utouch {pwned}",
        f"ext::sh -c touch% {pwned}",
        f"fd::17/{pwned}",
        f"ssh://-oProxyCommand=touch {pwned}/x",
        f"-oProxyCommand=touch {pwned}:x",
        "https://user:secret@git.example/ops.git",
        "relative/path",
    ]:
        source = _source(admin_user, url)
        job = _sync(admin_client, source, django_capture_on_commit_callbacks)
        assert job.state == IndexJob.State.FAILED, url
        assert not pwned.exists(), url
        source.delete()


def test_form_names_the_field_of_a_hostile_branch_url_or_link(
    admin_client: Client, repo: Path
) -> None:
    base = {"name": "g", "type": "git", "url": str(repo), "branch": "main", "enabled": "on"}
    cases = [
        ("branch", {"branch": "--upload-pack=touch /tmp/x;"}),
        ("url", {"url": "--upload-pack=touch /tmp/x"}),
        ("url", {"url": "ext::sh -c touch% /tmp/x"}),
        ("url", {"url": "https://user:pw@git.example/ops.git"}),
        ("web_url", {"web_url": "javascript:alert(document.cookie)//{path}"}),
    ]
    for field, change in cases:
        with translation.override("en"):
            response = admin_client.post(reverse("knowledge_console:source_new"), base | change)
        assert response.status_code == 200, change
        assert field in response.context["form"].errors, (change, response.context["form"].errors)
        assert not Source.objects.exists()


def test_check_ref_accepts_real_names_and_refuses_options() -> None:
    for good in ["", "main", "release/2.4", "v1.0.3", "feature/ceph-osd_replace"]:
        assert gitrun.check_ref(good) is None, good
    for bad in _hostile_branches(Path("/tmp/x")):
        assert gitrun.check_ref(bad) is not None, bad


def test_portal_environment_hooks_and_config_do_not_reach_git(
    admin_user: User, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ~/.gitconfig of the portal's account (hooks, URL rewriting) and GIT_* variables
    of its environment are ignored: git runs with a cleared environment."""
    pwned = tmp_path / "PWNED"
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    for name in ("post-checkout", "reference-transaction", "post-merge"):
        hook = hooks / name
        hook.write_text(f"#!/bin/sh\ntouch {pwned}\n")
        hook.chmod(0o755)
    other = tmp_path / "other"
    other.mkdir()
    git(other, "init", "-q", "-b", "main")
    (other / "planted.md").write_text("# Planted\n\nplanted-by-rewrite\n")
    git(other, "add", ".")
    git(other, "commit", "-q", "-m", "x")
    home = tmp_path / "home"
    home.mkdir()
    (home / ".gitconfig").write_text(
        f'[core]\n\thooksPath = {hooks}\n[url "{other}"]\n\tinsteadOf = {repo}\n'
    )
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_PARAMETERS", f"'core.hookspath'='{hooks}'")
    source = _source(admin_user, str(repo))
    job = actions.start_job(admin_user, source, wait=True)
    job.refresh_from_db()
    assert job.state == IndexJob.State.DONE, job.message
    assert [d.path for d in source.documents.all()] == ["ceph.md"]
    assert not pwned.exists()


def test_symlinks_in_the_repository_are_not_followed(
    admin_user: User, repo: Path, tmp_path: Path
) -> None:
    secret = tmp_path / "server-secret.txt"
    secret.write_text("server-only-canary-4711\n")
    os.symlink(secret, repo / "leak.md")
    os.symlink("/etc/os-release", repo / "os-release.txt")
    os.symlink("ceph.md", repo / "inside.md")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "links")
    source = _source(admin_user, str(repo))
    job = actions.start_job(admin_user, source, wait=True)
    job.refresh_from_db()
    assert job.state == IndexJob.State.DONE, job.message
    errors = {e["path"]: e["error"] for e in job.errors}
    assert set(errors) == {"leak.md", "os-release.txt", "inside.md"}
    assert all("symbolic link" in e for e in errors.values())
    assert source.documents.get(error="").path == "ceph.md"
    texts = " ".join(h.text for h in retrieval.search(admin_user, "server-only-canary-4711", k=5))
    assert "canary" not in texts and "PRETTY_NAME" not in texts
    # Nothing is checked out: there is no work tree a link could be resolved in.
    work = Path(settings.VAR_DIR) / "git" / str(source.pk)
    assert (work / "HEAD").is_file() and not (work / "leak.md").exists()


def test_deleting_a_git_source_removes_its_repository_copy(
    admin_user: User, admin_client: Client, repo: Path, django_capture_on_commit_callbacks
) -> None:
    source = _source(admin_user, str(repo))
    assert _sync(admin_client, source, django_capture_on_commit_callbacks).state == "done"
    base = Path(settings.VAR_DIR) / "git"
    work = base / str(source.pk)
    left_behind = base / "987654321"  # by a source deleted before copies were removed
    (left_behind / "objects").mkdir(parents=True, exist_ok=True)
    assert (work / "objects").is_dir()
    url = reverse("knowledge_console:source_action", args=[source.pk, "delete"])
    with django_capture_on_commit_callbacks(execute=True):
        assert admin_client.post(url).status_code == 302
    assert not Source.objects.filter(pk=source.pk).exists()
    assert not work.exists() and not left_behind.exists()
