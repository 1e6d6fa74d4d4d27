"""`manage.py knowledge`: ingest, search --batch, eval, and clear errors."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.knowledge.models import Source

pytestmark = pytest.mark.django_db


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    root = tmp_path / "kb"
    (root / "runbooks").mkdir(parents=True)
    (root / "runbooks" / "inodes.md").write_text(
        "# Out of inodes\n\nFind directories with many small files: `find / -xdev -type f | cut -d/ -f2 | sort | uniq -c`.\n"
    )
    (root / "runbooks" / "redis.md").write_text(
        "# Redis memory\n\nWhen used_memory reaches maxmemory Redis starts evicting keys.\n"
    )
    (root / "broken.pdf").write_bytes(b"%PDF-1.4 not really")
    return root


def test_ingest_search_batch_and_eval(docs: Path, tmp_path: Path) -> None:
    out, err = StringIO(), StringIO()
    call_command(
        "knowledge",
        "ingest",
        str(docs),
        "--source",
        "cli-kb",
        "--groups",
        "sre,dba",
        stdout=out,
        stderr=err,
    )
    assert "cli-kb: done; 3 documents" in out.getvalue() and "1 with errors" in out.getvalue()
    assert "broken.pdf: not a readable PDF" in err.getvalue()
    assert Source.objects.get(name="cli-kb").group_names() == ["dba", "sre"]

    questions = tmp_path / "q.jsonl"
    questions.write_text(
        json.dumps(
            {"q": "кончились иноды, где много мелких файлов", "doc": "runbooks/inodes.md"},
            ensure_ascii=False,
        )
        + "\n"
        + json.dumps({"q": "redis evicting keys at maxmemory", "doc": "runbooks/redis.md"})
        + "\n"
    )
    out = StringIO()
    call_command("knowledge", "search", "--batch", str(questions), "-k", "2", stdout=out)
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert json.loads(lines[0])[0]["path"] == "runbooks/inodes.md"
    assert json.loads(lines[1])[0]["path"] == "runbooks/redis.md"

    out = StringIO()
    call_command("knowledge", "eval", str(questions), "-k", "5", stdout=out)
    assert json.loads(out.getvalue()) == {
        "questions": 2,
        "hit@5": 1.0,
        "mrr": 1.0,
        "mode": "hybrid",
    }


def test_cli_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="is not a directory"):
        call_command("knowledge", "ingest", str(tmp_path / "missing"))
    with pytest.raises(CommandError, match="no user named"):
        call_command("knowledge", "search", "x", "--user", "nobody")
