"""The echo guard on real outputs of the dev model (gemma-3-270m, temperature 0, recorded on
the demo knowledge base): prompt echoes are never shown, answers that quote a source are.
The last test asks the real dev vLLM through the chat template, where it echoes."""

from __future__ import annotations

from contextlib import aclosing
from typing import Any

import pytest

from apps.inference import client, guard, metrics, prompts
from apps.inference.prompts import Prompt
from apps.knowledge.search import prompting
from apps.knowledge.search.retrieval import Hit

RUNBOOK = (
    "1. **Fix the sink first.** If OpenSearch is red/read-only, follow its runbook; the queues\n"
    "   drain by themselves afterwards (the persistent queue survives gateway restarts).\n"
    "2. **Log storm**: ask the owning team to drop the log level; meanwhile drop the noise at\n"
    "   the gateway with a filter processor."
)
REPLACE_OSD = (
    "1. Убедитесь, что OSD помечен `out` и recovery идёт: `ceph -s` (строка `recovery: ... "
    "objects/s`).\n2. Дождитесь `HEALTH_OK` или хотя бы отсутствия `degraded` PG.\n3. Заявка в "
    "ЦОД на замену диска (указать хост, слот из `ceph device ls-by-host ceph-osd-03`)."
)


def _hit(n: int, title: str, section: str, text: str) -> Hit:
    return Hit(
        chunk_id=f"c{n}",
        text=text,
        title=title,
        section=section,
        link="",
        version="",
        source="Demo knowledge base",
        source_id=1,
        document_id=f"d{n}",
        path=f"runbooks/{n}.md",
        score=1.0,
        language="en",
        relevance=0.9,
    )


def _prompt(question: str, hits: list[Hit]) -> Prompt:
    parts = prompting.Parts(question=question, hits=hits, history=[], knowledge=True)
    return Prompt(
        messages=prompting.chat_messages(parts),
        completion=prompting.completion_text(parts),
        scaffold=prompting.SCAFFOLD,
        quoted=prompting.quoted(parts),
    )


OTEL = _prompt(
    "OtelCollectorExporterQueueFull: logs are being dropped, how to fix?",
    [
        _hit(
            1,
            "OtelCollectorExporterQueueFull / DataPrepperBufferFull",
            "OtelCollectorExporterQueueFull / DataPrepperBufferFull: logs and traces are being "
            "dropped > What to do",
            RUNBOOK,
        ),
        _hit(
            2,
            "OpenSearchClusterRed / OpenSearchDiskWatermark",
            "OpenSearchClusterRed / OpenSearchDiskWatermark: log cluster red or disks over "
            "watermark > Red",
            "Red means a primary shard is unassigned: `GET _cluster/allocation/explain`.",
        ),
    ],
)
OSD = _prompt(
    "How do I replace a failed OSD disk in ceph-m1?",
    [
        _hit(
            1,
            "Замена вышедшего из строя диска OSD в ceph-m1",
            "Замена диска > Порядок",
            REPLACE_OSD,
        )
    ],
)

# What the dev model wrote through the chat template for these prompts (recorded).
RULES_ECHO = (
    "You are Opsdesk, an assistant for IT operations engineers.\nAnswer ONLY from the numbered "
    "sources below.\nCite every statement with the number of its source in square brackets, "
    "like [1] or [2][3].\nIf the sources do not contain the answer, say plainly that the "
    "knowledge base has no answer to this quest"
)
QUESTION_ECHO = "How do I replace a failed OSD disk in ceph-m1? mendatanguser\n" * 5


def _stream(prompt: Prompt, pieces: list[str]) -> tuple[str, str]:
    """What a reader sees when the answer arrives in these pieces, and the verdict."""
    g = guard.EchoGuard(prompt)
    shown = "".join(g.feed(p) for p in pieces) + g.finish()
    return shown, g.verdict


def _pieces(text: str, size: int = 3) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


@pytest.mark.parametrize("echo", [RULES_ECHO, RULES_ECHO[:70], "<<<SOURCE 1>>>\n[1] " + RUNBOOK])
def test_an_answer_that_repeats_the_rules_or_a_delimiter_shows_nothing(echo: str) -> None:
    shown, verdict = _stream(OTEL, _pieces(echo))
    assert (shown, verdict) == ("", guard.WITHHELD)


def test_a_made_up_role_before_the_rules_shows_nothing() -> None:
    # Recorded: the dev model through its chat template, asked about an OSD disk.
    echo = "You are a senior operations engineer.\n" + RULES_ECHO.split("\n", 1)[1]
    # The role line is itself a sign (guard.ROLE): not even it goes out.
    assert _stream(OSD, _pieces(echo)) == ("", guard.WITHHELD)
    assert _stream(OSD, [echo]) == ("", guard.WITHHELD)


@pytest.mark.parametrize(
    "role",
    [
        # Recorded: the dev model at a higher temperature, asked again about the exporter.
        "You are Opscreeper/Opsdesk, a team of experts in the management of in-field data.\n",
        "You are an IT operations engineer with ten years of experience in observability.",
        "Ты — опытный инженер эксплуатации, который отвечает на вопросы по OpenTelemetry.",
    ],
)
def test_a_role_the_model_gives_itself_shows_nothing(role: str) -> None:
    assert _stream(OTEL, _pieces(role)) == ("", guard.WITHHELD)
    assert _stream(OTEL, [role]) == ("", guard.WITHHELD)


def test_an_answer_that_repeats_the_question_shows_nothing() -> None:
    assert _stream(OSD, _pieces(QUESTION_ECHO)) == ("", guard.WITHHELD)


def test_a_source_heading_alone_is_no_answer() -> None:
    # Recorded from the completion form: only the source's own heading, copied.
    heading = (
        " OpenSearchClusterRed / OpenSearchDiskWatermark: log cluster red or\ndisks over "
        "watermark > Red.\n"
    )
    assert _stream(OTEL, _pieces(heading))[1] == guard.WITHHELD


@pytest.mark.parametrize(
    ("prompt", "answer"),
    [
        # Recorded answers of the completion form that copy the right section's steps.
        (OTEL, "\n\n" + RUNBOOK + "\n"),
        (OSD, "\n" + REPLACE_OSD + "\n"),
        # A written answer quoting a command and a sentence from its source, cited.
        (
            OTEL,
            "Fix the sink first [1]: if OpenSearch is red/read-only, follow its runbook; the "
            "queues drain by themselves afterwards. Check why with "
            "`GET _cluster/allocation/explain` [2].",
        ),
        # "You are" with a verb is an answer, not a role.
        (OTEL, "You are seeing dropped logs because the exporter queue is full [1]."),
        # Short answers are judged when they end, not held forever.
        (OSD, "Run `ceph -s` first [1]."),
    ],
)
def test_answers_that_quote_their_sources_are_shown_whole(prompt: Prompt, answer: str) -> None:
    assert _stream(prompt, _pieces(answer)) == (answer, "")
    assert _stream(prompt, [answer]) == (answer, "")


def test_an_echo_after_a_usable_start_is_cut_where_it_begins() -> None:
    start = "Fix the sink first [1]: the queues drain by themselves afterwards. " * 3
    shown, verdict = _stream(OTEL, _pieces(start + "\n" + RULES_ECHO))
    assert verdict == guard.CUT
    assert shown.strip() == start.strip()
    assert "Opsdesk" not in shown


def test_nothing_is_released_before_it_is_judged() -> None:
    g = guard.EchoGuard(OTEL)
    # The opening waits for the copy test; a phrase of the rules never shows even in part.
    assert g.feed("You are Opsdesk,") == ""
    assert g.feed(" an assistant") == ""
    assert g.feed(" for IT operations engineers.") == ""
    assert g.finish() == "" and g.verdict == guard.WITHHELD


def test_blank_output_is_no_answer() -> None:
    assert _stream(OTEL, ["\n", "  \n"]) == ("", guard.EMPTY)


def test_an_unguarded_prompt_is_not_checked() -> None:
    assert prompts.as_prompt([{"role": "user", "content": "hi"}]).guarded is False


@pytest.mark.django_db(transaction=True)
async def test_the_real_dev_model_never_streams_its_prompt(vllm: str, settings: Any) -> None:
    """Through the chat template (as an instruct backend would be asked) the dev model echoes
    the rules at temperature 0. The client sends none of it, asks once more at a higher
    temperature, and counts both verdicts; whatever the second answer is, no prompt reaches
    the reader and the verdict recorded is the one of the answer the reader got."""
    from asgiref.sync import sync_to_async

    from apps.inference.backends import sync_from_settings
    from apps.inference.models import Backend, LLMCall

    def counted(verdict: str) -> float:
        # The counter itself, not the whole registry: some collectors query the database,
        # which an async test may not do from its event loop.
        labels = {"purpose": "guard-test", "verdict": verdict}
        samples = [s for family in metrics.GUARDED.collect() for s in family.samples]
        return sum(s.value for s in samples if s.name.endswith("_total") and s.labels == labels)

    await sync_to_async(sync_from_settings)()
    await Backend.objects.filter(name="cpu-live").aupdate(base_model=False)
    await Backend.objects.exclude(name="cpu-live").aupdate(enabled=False)
    # The second answer may be whole ("ok"), turn into an echo after a usable start ("cut"),
    # or be no answer again.
    verdicts = (
        "ok",
        guard.CUT,
        *guard.NO_ANSWER,
        *(f"{v} (asked again)" for v in guard.NO_ANSWER),
    )
    before = {v: counted(v) for v in verdicts}
    events = client.stream(OTEL, tier="fast", purpose="guard-test", max_tokens=60, temperature=0)
    async with aclosing(events):
        seen = [e async for e in events]
    text = "".join(e["text"] for e in seen if e["type"] == "token")
    end: Any = seen[-1]
    assert "Opsdesk" not in text and "<<<" not in text and "Answer ONLY" not in text
    assert end["outcome"] == "complete" and end["development"] is True
    grown = {v: counted(v) - before[v] for v in verdicts}
    assert sum(grown[f"{v} (asked again)"] for v in guard.NO_ANSWER) == 1, grown
    assert grown[end["echo"] or "ok"] == 1, grown
    if end["echo"] in guard.NO_ANSWER:
        # A few words may have gone out before the echo showed itself (an opening that runs
        # into the rules); the page replaces them by the note. A role line ("You are …")
        # shows nothing at all (test_a_role_the_model_gives_itself_shows_nothing).
        assert len(text.split()) < guard.BEGUN_WORDS, (end, text)
    else:
        assert text.strip(), (end, text)
    row = await LLMCall.objects.aget(pk=end["call_id"])
    assert row.echo == end["echo"]
