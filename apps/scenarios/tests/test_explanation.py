"""The explanation of a run's findings, streamed over the run's socket by the real dev vLLM,
grounded in the knowledge base with the owner's permissions; who may watch, stop and share it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import Group, User
from django.test import Client

from apps.inference import limits, relay
from apps.scenarios import actions, explanation
from apps.scenarios.engine import registry
from apps.scenarios.engine.forms import Input
from apps.scenarios.models import Run
from apps.scenarios.tests.test_pages import SITE

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(300)]

ORIGIN = (b"origin", b"http://127.0.0.1:8000")


@pytest.fixture(autouse=True)
def _short(settings: Any) -> Iterator[None]:
    # The dev model writes ~20 tokens/s on these CPUs: short explanations keep tests fast.
    settings.SCENARIO_EXPLANATION_MAX_TOKENS = 40
    yield
    relay.forget_all()


def make_run(user: User, explain: bool = True) -> Run:
    with_analysis = registry.get("proxy-config")
    analysis = with_analysis.analyze(SITE, {})
    return actions.create_run(user, with_analysis, Input(SITE, "paste"), analysis, explain)


async def cookie_for(user: User) -> tuple[bytes, bytes]:
    def login() -> str:
        client = Client()
        client.force_login(user)
        return client.cookies["sessionid"].value

    return (b"cookie", f"sessionid={await sync_to_async(login)()}".encode())


async def open_run(run_id: int, user: User | None, share: str = "") -> WebsocketCommunicator:
    from portal.asgi import application

    headers = [ORIGIN] + ([await cookie_for(user)] if user else [])
    path = f"/ws/scenarios/runs/{run_id}/" + (f"?share={share}" if share else "")
    comm = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await comm.connect(timeout=10)
    assert connected
    return comm


async def frames_until(comm: WebsocketCommunicator, kind: str, timeout: float = 120) -> list[Any]:
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        assert left > 0, f"no {kind!r} frame within {timeout} s; got {seen[-5:]}"
        frame = await comm.receive_json_from(timeout=left)
        seen.append(frame)
        if frame["type"] == kind:
            return seen


def text_of(frames: list[dict[str, Any]]) -> str:
    """The explanation as static/js/answer-stream.js rebuilds it from the frames."""
    text, seq = "", 0
    for frame in frames:
        if frame["type"] == "catchup" and frame["seq"] >= seq:
            text, seq = frame["text"], frame["seq"]
        elif frame["type"] == "delta" and frame["seq"] == seq + 1:
            text, seq = text + frame["text"], frame["seq"]
    return text


@pytest.fixture
def nginx_runbook(tmp_path: Path, settings: Any, admin_user: User) -> Iterator[int]:
    """An indexed runbook about alias traversal that only the sre group may read."""
    from apps.knowledge import actions as knowledge
    from apps.knowledge.store import qdrant

    qdrant.close()
    settings.QDRANT_URL = ""
    settings.QDRANT_PATH = str(tmp_path / "qdrant")
    settings.KNOWLEDGE_JOBS_INLINE = True
    docs = tmp_path / "nginx-runbooks"
    docs.mkdir()
    (docs / "alias.md").write_text(
        "# Nginx alias traversal\n\n## What gixy calls alias_traversal\n\nA location without "
        "a trailing slash whose alias ends with a slash lets /static../secret.txt read files "
        "beside the aliased directory (gixy: alias_traversal). Fix: end both the location and "
        "the alias with a slash, then run nginx -t and reload.\n"
    )
    job = knowledge.ingest_directory(admin_user, docs, "nginx-runbooks", ["sre"])
    yield job.source_id
    qdrant.close()


async def test_the_owners_page_streams_a_grounded_explanation_and_stores_it(
    vllm: str, member: User, outsider: User, nginx_runbook: int
) -> None:
    run = await sync_to_async(make_run)(member)
    assert run.status == Run.Status.PENDING and run.findings
    comm = await open_run(run.pk, member)
    frames = await frames_until(comm, "done")
    kinds = [f["type"] for f in frames]
    assert kinds[0] == "started" and kinds.count("delta") > 1, kinds
    meta = next(f for f in frames if f["type"] == "meta")
    assert meta["model"] == "gemma-3-270m"
    done = frames[-1]
    stored = await Run.objects.aget(pk=run.pk)
    assert done["status"] == stored.status == Run.Status.COMPLETE, stored.error
    assert stored.answer == text_of(frames) and stored.answer.strip()
    assert stored.model == "gemma-3-270m" and stored.tokens_per_s and stored.completion_tokens
    # The final block: the model and its speed under the answer, feedback for the owner.
    assert "gemma-3-270m" in done["html"] and 'class="tps"' in done["html"]
    assert 'id="run-feedback"' in done["html"]
    # Grounded with the member's permissions: the sre-only runbook is cited, and so the run
    # can be shared only with readers of it.
    assert [c["title"] for c in stored.citations] == ["Nginx alias traversal"]
    assert stored.source_ids == [nginx_runbook]
    await comm.disconnect()
    token = await sync_to_async(actions.share)(stored)
    colleague = await User.objects.acreate(username="colleague")
    await colleague.groups.aadd((await Group.objects.aget_or_create(name="sre"))[0])
    client = Client()
    await sync_to_async(client.force_login)(colleague)
    page = await sync_to_async(client.get)(f"/scenarios/shared/{token}/")
    assert page.status_code == 200 and "Nginx alias traversal" in page.content.decode()
    client = Client()
    await sync_to_async(client.force_login)(outsider)
    assert (await sync_to_async(client.get)(f"/scenarios/shared/{token}/")).status_code == 403


async def test_a_colleague_watches_but_only_the_owner_stops(
    vllm: str, member: User, outsider: User, settings: Any
) -> None:
    settings.SCENARIO_EXPLANATION_MAX_TOKENS = 400
    run = await sync_to_async(make_run)(member)
    token = await sync_to_async(actions.share)(run)
    owner = await open_run(run.pk, member)
    await frames_until(owner, "delta")
    watcher = await open_run(run.pk, outsider, share=token)  # no source: the link opens
    seen = await frames_until(watcher, "delta")
    assert seen[0]["type"] == "catchup" and seen[0]["message_id"] == run.pk
    await watcher.send_json_to({"type": "stop"})
    refused = await frames_until(watcher, "error")
    assert refused[-1]["code"] == "forbidden"
    await owner.send_json_to({"type": "stop"})
    done = (await frames_until(owner, "done", timeout=30))[-1]
    assert done["status"] == Run.Status.INTERRUPTED
    assert (await frames_until(watcher, "done", timeout=30))[-1]["status"] == "interrupted"
    stored = await Run.objects.aget(pk=run.pk)
    assert stored.status == Run.Status.INTERRUPTED and stored.error == explanation.STOPPED
    await owner.disconnect()
    await watcher.disconnect()
    # Without the link, or signed out, the socket is refused with a code the page reads.
    from portal.asgi import application

    for user, code in [(outsider, 4404), (None, 4401)]:
        headers = [ORIGIN] + ([await cookie_for(user)] if user else [])
        comm = WebsocketCommunicator(application, f"/ws/scenarios/runs/{run.pk}/", headers=headers)
        await comm.connect(timeout=10)
        assert (await comm.receive_output(timeout=5))["code"] == code
        await comm.disconnect()


async def test_an_explanation_over_the_users_limit_waits_with_the_reason(
    vllm: str, member: User
) -> None:
    held = [await limits.take(member) for _ in range(limits.max_streams())]
    try:
        run = await sync_to_async(make_run)(member)
        comm = await open_run(run.pk, member)
        frames = await frames_until(comm, "done")
        error = next(f for f in frames if f["type"] == "error")
        assert error["code"] == "refused" and str(limits.max_streams()) in error["message"]
        stored = await Run.objects.aget(pk=run.pk)
        assert stored.status == Run.Status.NONE and stored.error == error["message"]
        assert 'id="btn-explain"' in frames[-1]["html"]  # one click to ask again
        await comm.disconnect()
    finally:
        for slot in held:
            await slot.release()
