"""Chat messages about a triaged alert, in each messenger's documented incoming-webhook format.

- Mattermost (https://developers.mattermost.com/integrate/webhooks/incoming/): JSON with
  Markdown `text`, optional `channel`, `username`, `icon_url`, and `attachments` (message
  attachments: `fallback`, `color`, `title`, `title_link`, `text`, `fields`, `footer`).
- Slack (https://api.slack.com/messaging/webhooks): JSON with a plain-text `text` fallback
  and Block Kit `blocks` (header, section with mrkdwn, context, actions with a link button).

The language is ALERT_TRIAGE_LANGUAGE. A message quotes only documents every signed-in user
may read; anything else is left to the triage page, which checks its reader's permissions.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from apps.scenarios.alert_triage.models import Alert

MAX_CAUSES = 3
MAX_STEPS = 3
COLORS = {"critical": "#d0021b", "error": "#e8590c", "warning": "#f5a623", "info": "#4a90d9"}
RESOLVED_COLOR = "#2e9d5b"


def triage_url(alert: Alert) -> str:
    base = (settings.PORTAL_URL or alert.base_url or "").rstrip("/")
    return base + reverse("alert_triage:detail", args=[alert.pk])


def _public(source_id: Any, public: set[int]) -> bool:
    return isinstance(source_id, int) and source_id in public


def _headline(alert: Alert, event: str) -> str:
    name = alert.alertname or _("alert without a name")
    if event == "resolved":
        state = _("RESOLVED")
    elif event == "reopened":
        state = _("FIRING AGAIN (%(n)s)") % {"n": alert.refires}
    else:
        state = _("FIRING")
    severity = f" · {alert.severity}" if alert.severity else ""
    team = f" · {_('team')} {alert.team}" if alert.team else ""
    return f"[{state}] {name}{severity}{team}"


def content(alert: Alert, event: str, public: set[int]) -> dict[str, Any]:
    """The message's parts, language-neutral in shape, worded in the triage language."""
    with translation.override(settings.ALERT_TRIAGE_LANGUAGE):
        t = alert.triage or {}
        context = {k: v for k, v in (t.get("context") or {}).items() if k not in ("severity",)}
        runbook = t.get("runbook") or {}
        causes = [
            c
            for c in (t.get("causes") or [])
            if _public((c.get("doc") or {}).get("source_id"), public)
        ][:MAX_CAUSES]
        steps = t.get("steps") if _public(runbook.get("source_id"), public) else []
        postmortems = [
            p
            for p in (t.get("postmortems") or [])
            if _public((p.get("doc") or {}).get("source_id"), public)
        ]
        runbook_link = (
            t.get("runbook_url")
            if str(t.get("runbook_url", "")).startswith(("http://", "https://"))
            else (runbook.get("link") or "")
        )
        hidden = len(t.get("causes") or []) > len(causes) or (
            runbook and not _public(runbook.get("source_id"), public)
        )
        return {
            "headline": _headline(alert, event),
            "event": event,
            "summary": alert.summary,
            "context": context,
            "causes_title": _("Probable causes"),
            "causes": [c["text"] for c in causes],
            "steps_title": _("First safe steps"),
            "steps": [
                (s["title"], (s.get("commands") or "").splitlines()[:1], s.get("changes"))
                for s in (steps or [])[:MAX_STEPS]
            ],
            "changes_note": _("changes the system"),
            "runbook_title": _("Runbook"),
            "runbook_name": runbook.get("title")
            if _public(runbook.get("source_id"), public)
            else "",
            "runbook_link": runbook_link,
            "similar_title": _("Similar incidents"),
            "similar": [p["doc"]["title"] for p in postmortems],
            "hidden_note": _("More on the triage page (sources with restricted access).")
            if hidden
            else "",
            "open": _("Open the triage"),
            "source": _("Source"),
            "url": triage_url(alert),
            "generator_url": t.get("generator_url") or "",
            "color": RESOLVED_COLOR
            if event == "resolved"
            else COLORS.get(alert.severity, COLORS["warning"]),
        }


def mattermost(parts: dict[str, Any], channel: str = "") -> dict[str, Any]:
    lines: list[str] = []
    if parts["summary"]:
        lines.append(parts["summary"])
    if parts["context"]:
        lines.append(" · ".join(f"`{k}={v}`" for k, v in parts["context"].items()))
    if parts["event"] != "resolved":
        if parts["causes"]:
            lines.append(f"**{parts['causes_title']}**")
            lines += [f"{n}. {c}" for n, c in enumerate(parts["causes"], start=1)]
        if parts["steps"]:
            lines.append(f"**{parts['steps_title']}**")
            for n, (title, command, changes) in enumerate(parts["steps"], start=1):
                mark = f" _({parts['changes_note']})_" if changes else ""
                lines.append(f"{n}. {title}{mark}" + (f" `{command[0]}`" if command else ""))
        if parts["similar"]:
            lines.append(f"**{parts['similar_title']}:** " + "; ".join(parts["similar"]))
        if parts["hidden_note"]:
            lines.append(f"_{parts['hidden_note']}_")
    links = [f"[{parts['open']}]({parts['url']})"]
    if parts["runbook_link"]:
        links.append(f"[{parts['runbook_title']}]({parts['runbook_link']})")
    if parts["generator_url"]:
        links.append(f"[{parts['source']}]({parts['generator_url']})")
    attachment = {
        "fallback": parts["headline"],
        "color": parts["color"],
        "title": parts["headline"],
        "title_link": parts["url"],
        "text": "\n".join(lines)[:7000],
        "footer": " · ".join(links),
    }
    body: dict[str, Any] = {
        "username": "Opsdesk",
        "text": f"**{parts['headline']}**",
        "attachments": [attachment],
    }
    if channel:
        body["channel"] = channel
    return body


def _slack_escape(text: str) -> str:
    # Slack's mrkdwn treats &, < and > as control characters: escape them in quoted text.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack(parts: dict[str, Any], channel: str = "") -> dict[str, Any]:
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": parts["headline"][:150]}}
    ]
    main: list[str] = []
    if parts["summary"]:
        main.append(_slack_escape(parts["summary"]))
    if parts["context"]:
        main.append(" · ".join(f"`{k}={_slack_escape(v)}`" for k, v in parts["context"].items()))
    if main:
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(main)[:3000]}}
        )
    if parts["event"] != "resolved":
        if parts["causes"]:
            text = f"*{parts['causes_title']}*\n" + "\n".join(
                f"{n}. {_slack_escape(c)}" for n, c in enumerate(parts["causes"], start=1)
            )
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}})
        if parts["steps"]:
            rows = []
            for n, (title, command, changes) in enumerate(parts["steps"], start=1):
                mark = f" _({parts['changes_note']})_" if changes else ""
                code = f" `{_slack_escape(command[0])}`" if command else ""
                rows.append(f"{n}. {_slack_escape(title)}{mark}{code}")
            text = f"*{parts['steps_title']}*\n" + "\n".join(rows)
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}})
        notes = []
        if parts["similar"]:
            notes.append(
                f"*{parts['similar_title']}:* "
                + "; ".join(_slack_escape(s) for s in parts["similar"])
            )
        if parts["hidden_note"]:
            notes.append(f"_{parts['hidden_note']}_")
        if notes:
            blocks.append(
                {
                    "type": "context",
                    "elements": [{"type": "mrkdwn", "text": n[:3000]} for n in notes],
                }
            )
    buttons: list[dict[str, Any]] = [
        {
            "type": "button",
            "text": {"type": "plain_text", "text": parts["open"]},
            "url": parts["url"],
        }
    ]
    if parts["runbook_link"]:
        buttons.append(
            {
                "type": "button",
                "text": {"type": "plain_text", "text": parts["runbook_title"]},
                "url": parts["runbook_link"],
            }
        )
    if parts["generator_url"]:
        buttons.append(
            {
                "type": "button",
                "text": {"type": "plain_text", "text": parts["source"]},
                "url": parts["generator_url"],
            }
        )
    blocks.append({"type": "actions", "elements": buttons})
    body: dict[str, Any] = {"text": parts["headline"], "blocks": blocks}
    if channel:
        body["channel"] = channel  # honoured by legacy webhooks only; harmless elsewhere
    return body


def render(
    kind: str, alert: Alert, event: str, public: set[int], channel: str = ""
) -> dict[str, Any]:
    parts = content(alert, event, public)
    return mattermost(parts, channel) if kind == "mattermost" else slack(parts, channel)
