"""The demo knowledge base command, and a model change rebuilding into a new collection."""

from __future__ import annotations

import shutil
import time
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from apps.knowledge import actions
from apps.knowledge.models import Collection, Source
from apps.knowledge.search import retrieval
from apps.knowledge.store import qdrant
from apps.knowledge.store.embeddings import model_path

pytestmark = pytest.mark.django_db


def test_demo_knowledge_indexes_once_with_the_sre_folder_restricted(
    member: User, outsider: User
) -> None:
    out = StringIO()
    call_command("demo_knowledge", stdout=out)
    assert "Demo knowledge base: done" in out.getvalue()
    public = Source.objects.get(name="Demo knowledge base")
    sre = Source.objects.get(name="Demo knowledge base (SRE only)")
    assert sre.group_names() == ["sre"] and public.group_names() == []
    assert not public.documents.filter(path__startswith="sre-only/").exists()
    assert sre.documents.filter(path="break-glass.md").exists()
    # The code word of sre-only/break-glass.md reaches sre members only.
    query = "кодовое слово break-glass ОРИОН-7 ORION-7"
    assert "ОРИОН-7" in " ".join(h.text for h in retrieval.search(member, query, k=5))
    seen = " ".join(h.text for h in retrieval.search(outsider, query, k=20))
    assert "ОРИОН-7" not in seen and "ORION-7" not in seen
    started = time.monotonic()
    out = StringIO()
    call_command("demo_knowledge", stdout=out)
    assert "already indexed" in out.getvalue() and time.monotonic() - started < 5


def test_demo_knowledge_without_samples_says_so(tmp_path: Path) -> None:
    out = StringIO()
    call_command("demo_knowledge", "--path", str(tmp_path / "none"), stdout=out)
    assert "No demo knowledge base" in out.getvalue()


def test_model_change_rebuilds_into_a_new_collection_and_swaps_the_alias(
    tmp_path: Path, ingest, admin_user: User, settings
) -> None:
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / f"{name}.md").write_text(
            f"# Doc {name}\n\nHow to rotate the TLS certificate of service {name}.\n"
        )
    first = ingest(tmp_path / "a", "gen-a").collection
    ingest(tmp_path / "b", "gen-b")
    assert qdrant.alias_target() == first

    copy = tmp_path / "model-copy"  # the same weights under another path: a "new" model
    shutil.copytree(model_path(), copy)
    settings.EMBEDDING_MODEL = str(copy)
    second = ingest(tmp_path / "a", "gen-a").collection
    assert second != first
    # Half-way: gen-b still lives only in the old collection, so the alias stays put and
    # search (with the old model for queries) still finds both.
    assert qdrant.alias_target() == first
    assert {h.source for h in retrieval.search(admin_user, "rotate TLS certificate", k=5)} == {
        "gen-a",
        "gen-b",
    }
    ingest(tmp_path / "b", "gen-b")
    assert qdrant.alias_target() == second
    assert Collection.objects.get(name=first).state == Collection.State.RETIRED
    with qdrant.locked() as qc:
        assert not qc.collection_exists(first)
    assert {h.source for h in retrieval.search(admin_user, "rotate TLS certificate", k=5)} == {
        "gen-a",
        "gen-b",
    }
    settings.EMBEDDING_MODEL = ""
    actions.start_job(
        admin_user, Source.objects.get(name="gen-a"), wait=True
    )  # back to the default
