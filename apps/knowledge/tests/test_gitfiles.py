"""Reading one file of an indexed Git source at a ref: a real repository, a real clone, hostile
refs and paths, and the source's read permission."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.utils import translation

from apps.knowledge import actions
from apps.knowledge.ingest import gitfiles
from apps.knowledge.ingest.connectors.git import GitConnector
from apps.knowledge.models import IndexJob, Source
from apps.knowledge.tests.test_connectors import git

pytestmark = pytest.mark.django_db

SITE_V1 = "server {\n    listen 80;\n    root /srv/www;\n}\n"
SITE_V2 = "server {\n    listen 80;\n    location / { proxy_pass http://app; }\n}\n"


@pytest.fixture(autouse=True)
def _own_var(tmp_path: Path, settings) -> Iterator[None]:
    """Clones live in var/git/<source id>: a test's own directory, so no id of an earlier
    run finds an old clone. Messages are checked in English."""
    settings.VAR_DIR = tmp_path / "var"
    with translation.override("en"):
        yield


def make_repo(parent: Path) -> Path:
    """main: two commits of nginx/site.conf; feature: a third; plus a binary, a symlink to
    /etc/passwd and a big file."""
    repo = parent / "configs"
    (repo / "nginx").mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    (repo / "nginx" / "site.conf").write_text(SITE_V1)
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "first")
    (repo / "nginx" / "site.conf").write_text(SITE_V2)
    (repo / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00binary")
    os.symlink("/etc/passwd", repo / "passwd-link")
    (repo / "big.conf").write_text("# filler\n" * 300_000)  # 2.7 MB
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "second")
    git(repo, "checkout", "-q", "-b", "feature")
    (repo / "nginx" / "site.conf").write_text(SITE_V2 + "# feature\n")
    git(repo, "commit", "-q", "-am", "feature work")
    git(repo, "checkout", "-q", "main")
    return repo


def synced_source(admin: User, repo: Path) -> Source:
    """The repository as a synced source readable by the sre group; file:// makes the clone
    shallow, as with a real remote, so older commits must be fetched."""
    src = actions.save_source(
        admin,
        name="configs",
        type=Source.Type.GIT,
        groups=["sre"],
        settings={"url": f"file://{repo}", "branch": "main", "include": ["*.md"]},
    )
    job = actions.start_job(admin, src, wait=True)
    job.refresh_from_db()
    assert job.state == IndexJob.State.DONE, job.message
    return src


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path)


@pytest.fixture
def source(repo: Path, admin_user: User) -> Source:
    return synced_source(admin_user, repo)


def test_reads_the_indexed_commit_a_branch_and_an_old_commit(
    repo: Path, source: Source, member: User
) -> None:
    first = git(repo, "rev-parse", "HEAD~1")
    head = git(repo, "rev-parse", "HEAD")
    got = gitfiles.read_file(member, source.pk, "", "nginx/site.conf")
    assert (got.text, got.commit, got.source) == (SITE_V2, head, "configs")
    feature = gitfiles.read_file(member, source.pk, "feature", "./nginx/site.conf")
    assert feature.text.endswith("# feature\n") and feature.path == "nginx/site.conf"
    assert feature.commit == git(repo, "rev-parse", "feature")
    # Not in the shallow clone: a short SHA is asked to be given in full, then fetched.
    with pytest.raises(gitfiles.GitFileError) as short:
        gitfiles.read_file(member, str(source.pk), first[:9], "nginx/site.conf")
    assert short.value.field == "ref" and "40" in short.value.message
    old = gitfiles.read_file(member, source.pk, first, "nginx/site.conf")
    assert old.text == SITE_V1 and old.commit == first


def test_a_branch_is_read_at_its_current_tip_without_touching_the_indexed_tree(
    repo: Path, source: Source, member: User
) -> None:
    (repo / "nginx" / "site.conf").write_text("server { listen 8080; }\n")
    git(repo, "commit", "-q", "-am", "after indexing")
    assert gitfiles.read_file(member, source.pk, "main", "nginx/site.conf").text == (
        "server { listen 8080; }\n"
    )
    # The commit the indexer read stays marked as such.
    bare = GitConnector(source).checkout()
    indexed = git(bare, "--git-dir=.", "rev-parse", "FETCH_HEAD")
    assert indexed == git(repo, "rev-parse", "HEAD~1")
    assert gitfiles.read_file(member, source.pk, "", "nginx/site.conf").text == SITE_V2


HOSTILE_REFS = [
    "--upload-pack=touch /tmp/opsdesk-pwned",
    "-c",
    "HEAD@{1}",
    "main..feature",
    "main:nginx/site.conf",
    "feature^",
    "a b",
    "refs/../../x",
    "x.lock",
    "$(id)",
]
HOSTILE_PATHS = ["../../etc/passwd", "/etc/passwd", ".git/config", "-p", "nginx/../../x", ""]


def test_hostile_refs_and_paths_are_refused_naming_the_field(source: Source, member: User) -> None:
    for ref in HOSTILE_REFS:
        with pytest.raises(gitfiles.GitFileError) as err:
            gitfiles.read_file(member, source.pk, ref, "nginx/site.conf")
        assert err.value.field == "ref", ref
    assert not Path("/tmp/opsdesk-pwned").exists()
    for path in HOSTILE_PATHS:
        with pytest.raises(gitfiles.GitFileError) as err:
            gitfiles.read_file(member, source.pk, "", path)
        assert err.value.field == "path", path


def test_files_come_from_git_objects_and_links_are_not_followed(
    source: Source, member: User
) -> None:
    for path, words in [
        ("passwd-link", "symbolic link"),
        ("logo.png", "binary"),
        ("nginx", "directory"),
        ("big.conf", "MB"),
        ("nginx/missing.conf", "no file"),
    ]:
        with pytest.raises(gitfiles.GitFileError) as err:
            gitfiles.read_file(member, source.pk, "", path)
        assert err.value.field == "path" and words in err.value.message, err.value.message


def test_only_readers_of_the_source_may_read_its_files(
    source: Source, member: User, outsider: User
) -> None:
    cases: list[tuple[User, int | str]] = [(outsider, source.pk), (member, 999_999), (member, "x")]
    for who, source_id in cases:
        with pytest.raises(gitfiles.GitFileError) as err:
            gitfiles.read_file(who, source_id, "", "nginx/site.conf")
        assert err.value.field == "source"
    assert [s.name for s in gitfiles.git_sources(member)] == ["configs"]
    assert gitfiles.git_sources(outsider) == []
    assert "nginx/site.conf" in gitfiles.list_files(member, source.pk)


def test_a_source_not_synced_yet_says_so(repo: Path, admin_user: User, member: User) -> None:
    src = actions.save_source(
        admin_user, name="fresh", type=Source.Type.GIT, groups=[], settings={"url": str(repo)}
    )
    with pytest.raises(gitfiles.GitFileError) as err:
        gitfiles.read_file(member, src.pk, "", "nginx/site.conf")
    assert err.value.field == "source" and "synced" in err.value.message
