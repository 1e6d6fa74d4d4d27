"""The unified search page and its streamed, cited answer (real vLLM server)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import AsyncClient, Client
from django.urls import reverse

from apps.inference.models import LLMCall

DOC = (
    "# Pod restarts\n\n## Diagnosis\n\nWhen a pod restarts in CrashLoopBackOff, read the previous "
    "container logs with kubectl logs --previous and check the exit code. Exit code 137 means "
    "the container was OOMKilled: raise the memory limit.\n"
)


@pytest.fixture
def kb(tmp_path: Path, ingest) -> Path:
    (tmp_path / "pods.md").write_text(DOC)
    ingest(tmp_path, "search-kb")
    return tmp_path


pytestmark = pytest.mark.both_engines


@pytest.mark.django_db
def test_search_page_methods_and_login(client: Client, member_client: Client) -> None:
    url = reverse("knowledge:search")
    assert client.get(url).status_code == 302
    assert member_client.get(url).status_code == 200
    assert member_client.post(url).status_code == 405
    assert member_client.post(reverse("knowledge:answer")).status_code == 405
    assert client.get(reverse("knowledge:answer"), {"q": "x"}).status_code == 302


@pytest.mark.django_db
def test_results_show_title_source_section_and_highlighted_snippet(
    kb, member_client: Client
) -> None:
    page = member_client.get(
        reverse("knowledge:search"), {"q": "под перезапускается, код выхода 137"}
    ).content.decode()
    assert "Pod restarts" in page and "search-kb" in page and "Pod restarts &gt; Diagnosis" in page
    assert "<mark>137</mark>" in page and "<mark>restarts</mark>" in page  # glossary: под -> pod
    assert 'data-stream="/search/answer/?q=' in page


def _section(heading: str, sentence: str) -> str:
    # ~250 words: a chunk of its own (chunking.TARGET_TOKENS)
    return f"## {heading}\n\n" + " ".join(f"{sentence} (case {n})." for n in range(25)) + "\n\n"


def lag_pages(root: Path) -> None:
    """A long page with two sections on Kafka consumer lag, a shorter sibling page on lag
    alerts, and an unrelated page."""
    (root / "lag.md").write_text(
        "# Kafka consumer lag\n\n"
        + _section("Reading the lag", "Kafka consumer lag shows how far a consumer group is behind")
        + _section("Fixing the lag", "Kafka consumer lag falls after restarting the consumer group")
    )
    (root / "burrow.md").write_text(
        "# Burrow\n\n"
        + _section(
            "Lag alerts", "Burrow alerts on Kafka consumer lag when a group stops committing"
        )
    )
    (root / "redis.md").write_text(
        "# Redis memory\n\n" + _section("Eviction", "Redis evicts keys at maxmemory")
    )


@pytest.mark.django_db
def test_each_page_is_listed_once_with_its_other_matching_section_under_it(
    tmp_path: Path, ingest, member: User, member_client: Client
) -> None:
    from apps.knowledge.search import retrieval

    lag_pages(tmp_path)
    ingest(tmp_path, "lag-kb")
    query = "Kafka consumer lag"
    found = retrieval.results(member, query, 2)
    # The chunk list may give both places to the long page; the page list names two pages.
    assert [h.path for h in found.hits] == ["lag.md", "lag.md"]
    assert [p.best.path for p in found.pages] == ["lag.md", "burrow.md"]
    assert [len(p.hits) for p in found.pages] == [2, 1]

    page = member_client.get(reverse("knowledge:search"), {"q": query}).content.decode()
    assert len(re.findall(r'<li id="hit-\d+" class="card"', page)) == 3  # one entry a page
    assert page.count(">lag.md") == 1 and page.count(">burrow.md") == 1
    assert 'id="hit-1-2"' in page and "Ещё на этой странице:" in page
    assert page.index("Kafka consumer lag &gt;") < page.index("Burrow &gt; Lag alerts")


@pytest.mark.django_db
def test_nothing_relevant_says_so_without_calling_the_llm(kb, member_client: Client) -> None:
    page = member_client.get(
        reverse("knowledge:search"), {"q": "рецепт борща с капустой"}
    ).content.decode()
    assert "В базе знаний не нашлось ничего подходящего" in page and "data-stream" not in page


async def _events(client: AsyncClient, query: str) -> list[dict[str, Any]]:
    response = await client.get(reverse("knowledge:answer"), {"q": query})
    assert response.status_code == 200 and response["Content-Type"] == "text/event-stream"
    stream: Any = response.streaming_content  # type: ignore[attr-defined]
    body = b"".join([chunk async for chunk in stream]).decode()
    return [json.loads(line[6:]) for line in body.splitlines() if line.startswith("data: ")]


@pytest.mark.django_db(transaction=True)
async def test_answer_streams_with_citations_or_declines(kb, member: User) -> None:
    client = AsyncClient()
    await client.aforce_login(member)
    calls = await LLMCall.objects.acount()
    events = await _events(client, "рецепт борща с капустой")
    assert [e["type"] for e in events] == ["no_answer"]
    assert await LLMCall.objects.acount() == calls  # the model was not asked at all

    events = await _events(client, "pod CrashLoopBackOff exit code 137, what to do?")
    kinds = [e["type"] for e in events]
    assert kinds[0] == "citations" and kinds[-1] == "end" and "token" in kinds
    assert events[0]["citations"][0]["title"] == "Pod restarts"
    assert events[-1]["outcome"] == "complete", events[-1]
    assert "".join(e["text"] for e in events if e["type"] == "token").strip()
    call = await LLMCall.objects.alatest("started")
    assert call.purpose == "search" and call.user_id == member.pk


@pytest.mark.django_db
def test_only_web_links_reach_the_page(
    tmp_path: Path, admin_user: User, member_client: Client
) -> None:
    from apps.knowledge import actions
    from apps.knowledge.search import retrieval
    from apps.knowledge.store import qdrant

    (tmp_path / "x.md").write_text("# Link test\n\nUnique phrase zebra-lantern-42.\n")
    source = actions.ingest_directory(admin_user, tmp_path, "links", []).source
    # A hostile link stored in the index (e.g. from a compromised wiki) is not rendered.
    qdrant.set_source_payload(
        qdrant.alias_target() or "", source.pk, {"link": "javascript:alert(1)"}
    )
    hit = retrieval.search(admin_user, "zebra-lantern-42", k=1)[0]
    assert hit.link == ""
    page = member_client.get(
        reverse("knowledge:search"), {"q": "zebra-lantern-42"}
    ).content.decode()
    assert "javascript:" not in page


@pytest.mark.django_db(transaction=True)
async def test_the_answer_counts_against_the_users_stream_limit(
    kb, member: User, settings: Any
) -> None:
    from django.core.cache import cache

    from apps.inference import limits

    cache.clear()
    settings.LLM_USER_MAX_STREAMS = 1
    client = AsyncClient()
    await client.aforce_login(member)
    question = "pod CrashLoopBackOff exit code 137, what to do?"
    calls = await LLMCall.objects.acount()
    async with limits.slot(member):  # an answer already being written, e.g. in the chat
        events = await _events(client, question)
    assert [e["type"] for e in events] == ["error"]
    assert "уже пишутся" in events[0]["error"]
    assert await LLMCall.objects.acount() == calls

    # While the search answer is written it holds the slot, so the chat would be refused.
    response = await client.get(reverse("knowledge:answer"), {"q": question})
    stream: Any = response.streaming_content  # type: ignore[attr-defined]
    seen = []
    async for chunk in stream:
        seen.append(chunk)
        if b'"token"' in chunk:
            with pytest.raises(limits.Refused):
                await limits.take(member)
    assert any(b'"end"' in c for c in seen)
    assert (await limits.usage(member)).streams == 0  # given back at the end


def test_the_things_a_question_names() -> None:
    from apps.knowledge.search.answering import names

    # Russian: every Latin word standing alone; English: capitals inside a sentence or a word.
    assert names("как разблокировать state в terraform, если apply завис?") == [
        "state",
        "terraform",
        "apply",
    ]
    assert names("How do I migrate Terraform state to an S3 backend with DynamoDB?") == [
        "Terraform",
        "DynamoDB",
    ]
    assert names("Nginx: What does the VPN use? Puppet is not ours.") == ["VPN"]
    # Identifiers are looked up as exact terms elsewhere, not as names; nor is what is pasted.
    assert names("процессор memory_limiter, бакет s3 и xy-точки") == []
    assert names("Why does the pod log `dial tcp: ECONNREFUSED on billingdb`?") == []
    assert names("Why does the pod log ECONNREFUSED?") == []
    assert names("под падает, в логе:\n" + "Failed to connect to billingdb " * 10) == []


def test_a_name_nothing_mentions_raises_the_bar_a_hit_must_reach() -> None:
    from apps.knowledge.search.answering import UNKNOWN_NAME_RELEVANCE, is_relevant
    from apps.knowledge.search.retrieval import Hit

    def hit(relevance: float) -> Hit:
        return Hit("c", "text", "Title", "", "", "", "kb", 1, "d", "p.md", 0.1, "en", relevance)

    question = "How do I register a GitLab runner?"
    assert is_relevant([hit(0.6)], question)
    assert not is_relevant([hit(0.6)], question, ["GitLab"])
    assert is_relevant([hit(UNKNOWN_NAME_RELEVANCE)], question, ["GitLab"])


@pytest.mark.django_db
def test_a_question_about_what_no_readable_page_names_is_declined_and_says_what(
    tmp_path: Path, ingest, member_client: Client, admin_client: Client
) -> None:
    public, secret = tmp_path / "public", tmp_path / "secret"
    public.mkdir()
    secret.mkdir()
    (public / "pods.md").write_text(DOC)
    (secret / "vault.md").write_text(
        "# Vault after a restart\n\n## Unsealing\n\nAfter a restart Vault starts sealed: three "
        "key holders each enter their Shamir key share with vault operator unseal.\n"
    )
    ingest(public, "public-kb")
    ingest(secret, "vault-kb", ["secops"])  # the member (group sre) may not read it
    question = "How do I unseal Vault with a Shamir key share after a restart?"

    page = member_client.get(reverse("knowledge:search"), {"q": question}).content.decode()
    assert "data-stream" not in page  # no answer is written from the pod page
    assert "Ни один доступный вам документ не упоминает: Vault, Shamir." in page
    assert "Unsealing" not in page  # nor is the page the member may not read shown

    page = admin_client.get(reverse("knowledge:search"), {"q": question}).content.decode()
    assert "data-stream" in page and "не упоминает" not in page
    assert "Vault after a restart" in page


@pytest.mark.django_db
def test_a_locked_index_is_said_on_the_page_not_a_server_error(
    tmp_path: Path, settings, ingest, member_client: Client
) -> None:
    """Another process holds the embedded index (a `manage.py knowledge` run, say)."""
    import fcntl

    from apps.knowledge.store import qdrant

    qdrant.close()
    settings.QDRANT_URL = ""
    settings.QDRANT_ENGINE = "edge"
    settings.QDRANT_PATH = str(tmp_path / "index")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "pods.md").write_text(DOC)
    ingest(tmp_path / "docs", "locked-kb")
    qdrant.close()  # this process lets go of the index; another takes it
    with open(tmp_path / "index" / "edge.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        response = member_client.get(
            reverse("knowledge:search"), {"q": "How do I unseal Vault after a restart?"}
        )
    qdrant.close()
    assert response.status_code == 200
    page = response.content.decode()
    assert "is locked by another process" in page and "data-stream" not in page
