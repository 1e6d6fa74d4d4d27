"""The run page's websocket: the explanation of one run, streamed as the shared answer socket
relays it (apps/inference/sockets.py).

Its owner's socket starts a pending explanation (so the model is asked only once someone
looks, and with the language of the page); a colleague who opened the share link watches the
same frames but can neither start nor stop it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _

from apps.inference import sockets
from apps.scenarios import actions, explanation, sharing
from apps.scenarios.engine import registry
from apps.scenarios.engine.checks import Check
from apps.scenarios.models import Run


def _visible(run_id: int, user: Any, token: str) -> Run | None:
    run = Run.objects.filter(pk=run_id).first()
    return run if run is not None and sharing.may_view(user, run, token) else None


def _streaming(run_id: int) -> list[dict[str, Any]]:
    rows = Run.objects.filter(pk=run_id, status=Run.Status.STREAMING)
    fields = ("id", "owner_channel", "heartbeat_at", "answer", "stream_seq")
    return [{**row, "text": row["answer"]} for row in rows.values(*fields)]


def block(run: Run, owner: bool) -> str:
    """The explanation block as the run page shows it (in the active language)."""
    context = {
        "run": run,
        "owner": owner,
        "scenario": registry.available().get(run.scenario),
        "checks": [Check.from_dict(c) for c in run.checks],
    }
    return render_to_string("scenarios/_explanation.html", context)


class RunConsumer(sockets.AnswerSocket):
    kind = explanation.Explanation.kind
    run_id: int
    owner = False

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.refuse(sockets.CLOSE_UNAUTHENTICATED)
            return
        self.user = user
        self.run_id = int(self.scope["url_route"]["kwargs"]["run_id"])
        query = parse_qs(self.scope.get("query_string", b"").decode(errors="replace"))
        token = (query.get("share") or [""])[0]
        run = await database_sync_to_async(_visible)(self.run_id, user, token)
        if run is None:
            await self.refuse(sockets.CLOSE_NOT_FOUND)
            return
        self.owner = run.user_id == user.pk
        await self.join(explanation.group_name(self.run_id))
        if self.owner and run.status == Run.Status.PENDING:
            await self.start()

    async def start(self) -> None:
        refused = await explanation.begin(self.run_id, self.user, self.language)
        if refused:
            await self.error("refused", refused)
            await self.finished(self.run_id)

    async def streaming(self) -> list[dict[str, Any]]:
        return await database_sync_to_async(_streaming)(self.run_id)

    async def abandon_stale(self, answer_id: int, stale_before: Any) -> None:
        await database_sync_to_async(actions.abandon_stale)(answer_id, stale_before)

    async def _send_block(self, kind: str) -> None:
        run = await database_sync_to_async(Run.objects.filter(pk=self.run_id).first)()
        if run is None:
            return
        with translation.override(self.language):
            html = block(run, self.owner)
        frame = {"type": kind, "message_id": run.pk, "seq": run.stream_seq, "status": run.status}
        await self.send_json({**frame, "html": html})

    async def finished(self, answer_id: int, row: dict[str, Any] | None = None) -> None:
        await self._send_block("done")

    def client_events(self) -> dict[str, Any]:
        return {**super().client_events(), "explain": self.on_explain}

    def relay_handlers(self) -> dict[str, Any]:
        return {
            **super().relay_handlers(),
            "scenario.started": self.scenario_started,
            "scenario.finished": self.scenario_finished,
        }

    # --- browser events ----------------------------------------------------------------------

    async def on_stop(self, event: dict[str, Any]) -> None:
        if not self.owner:
            with translation.override(self.language):
                await self.error("forbidden", _("Only the run's owner can stop it."))
            return
        await super().on_stop(event)

    async def on_explain(self, event: dict[str, Any]) -> None:
        """Start a pending explanation (the page asks again after a limit said no)."""
        if self.owner:
            await self.start()

    # --- channel-layer events ----------------------------------------------------------------

    async def scenario_started(self, event: dict[str, Any]) -> None:
        await self._send_block("started")

    async def scenario_finished(self, event: dict[str, Any]) -> None:
        await self.finished(self.run_id)
