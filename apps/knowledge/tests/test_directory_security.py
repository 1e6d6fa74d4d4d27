"""Directory sources read only their own directory: links out of it, into a nested source's
directory, FIFOs and a file swapped for a link while a job runs are refused."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from django.contrib.auth.models import User

from apps.knowledge import actions
from apps.knowledge.ingest.connectors import FetchError
from apps.knowledge.ingest.connectors.directory import DirectoryConnector
from apps.knowledge.models import IndexJob, Source
from apps.knowledge.search import retrieval

pytestmark = pytest.mark.django_db

CANARY = "server-only-canary-9313"


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    secret = tmp_path / "outside" / "secret_key"
    secret.parent.mkdir()
    secret.write_text(f"{CANARY} signing key\n")
    return secret


def _texts(user: User, query: str) -> str:
    return " ".join(h.text for h in retrieval.search(user, query, k=10))


def test_links_leaving_the_directory_are_listed_with_an_error_never_read(
    admin_user: User, tmp_path: Path, outside: Path, ingest
) -> None:
    root = tmp_path / "docs"
    (root / "guides").mkdir(parents=True)
    (root / "guides" / "redis.md").write_text("# Redis\n\nRaise maxmemory when evictions grow.\n")
    os.symlink(outside, root / "secret.md")
    os.symlink("/etc/os-release", root / "os-release.txt")
    os.symlink("../../outside/secret_key", root / "guides" / "relative.md")
    os.symlink(outside.parent, root / "linked-dir")  # a directory link: not descended
    os.symlink("guides/redis.md", root / "latest.md")  # stays inside: followed
    os.symlink(root / "missing.md", root / "dangling.md")
    os.mkfifo(root / "pipe.md")  # would block a plain open() forever
    job = ingest(root, "docs")
    assert job.state == IndexJob.State.DONE, job.message
    errors = {e["path"]: e["error"] for e in job.errors}
    assert set(errors) == {
        "secret.md",
        "os-release.txt",
        "guides/relative.md",
        "dangling.md",
        "pipe.md",
    }
    for path in ("secret.md", "os-release.txt", "guides/relative.md"):
        assert "symbolic link leading outside" in errors[path]
    assert "not a regular file" in errors["pipe.md"]
    source = Source.objects.get(name="docs")
    assert sorted(source.documents.filter(error="").values_list("path", flat=True)) == [
        "guides/redis.md",
        "latest.md",
    ]
    found = _texts(admin_user, f"{CANARY} signing key PRETTY_NAME")
    assert CANARY not in found and "PRETTY_NAME" not in found


def test_a_link_into_a_nested_restricted_source_is_refused(
    admin_user: User, member: User, outsider: User, tmp_path: Path, ingest
) -> None:
    root = tmp_path / "kb"
    (root / "sre-only").mkdir(parents=True)
    (root / "sre-only" / "vault.md").write_text(f"# Vault\n\nThe unseal share is {CANARY}.\n")
    (root / "public.md").write_text("# Public\n\nThe wiki lives on the intranet.\n")
    os.symlink("sre-only/vault.md", root / "shortcut.md")
    assert ingest(root / "sre-only", "kb-sre", ["sre"]).state == IndexJob.State.DONE
    job = ingest(root, "kb-public")
    errors = {e["path"]: e["error"] for e in job.errors}
    assert "another source's directory" in errors["shortcut.md"]
    assert CANARY not in _texts(outsider, f"unseal share {CANARY}")
    assert CANARY in _texts(member, f"unseal share {CANARY}")  # through its own source


def test_a_file_swapped_for_a_link_after_listing_is_refused(
    admin_user: User, tmp_path: Path, outside: Path
) -> None:
    root = tmp_path / "docs"
    root.mkdir()
    (root / "a.md").write_text("# A\n\nfine\n")
    source = Source.objects.create(
        name="race", type=Source.Type.DIRECTORY, settings={"path": str(root)}
    )
    connector = DirectoryConnector(source)
    [ref] = list(connector.list_documents())
    (root / "a.md").unlink()
    os.symlink(outside, root / "a.md")
    with pytest.raises(FetchError, match="outside the source's directory"):
        connector.fetch(ref)
    (root / "a.md").unlink()
    (root / "sub").mkdir()
    (root / "sub" / "x.md").write_text("x")
    # A parent directory swapped for a link leads outside the same way.
    ref.external_id = "sub/x.md"
    (root / "sub" / "x.md").unlink()
    (root / "sub").rmdir()
    os.symlink(outside.parent, root / "sub")
    (outside.parent / "x.md").write_text(CANARY)
    with pytest.raises(FetchError, match="outside the source's directory"):
        connector.fetch(ref)


def test_uploads_follow_the_same_rule(admin_user: User, outside: Path) -> None:
    source = actions.save_source(
        admin_user, name="up", type=Source.Type.UPLOAD, settings={}, groups=[]
    )
    folder = Path(DirectoryConnector(source).root())
    shutil.rmtree(folder, ignore_errors=True)  # left by an earlier run under the same id
    folder.mkdir(parents=True)
    os.symlink(outside, folder / "planted.txt")
    job = actions.start_job(admin_user, source, wait=True)
    job.refresh_from_db()
    assert [e["path"] for e in job.errors] == ["planted.txt"]
    actions.delete_source(admin_user, source)
