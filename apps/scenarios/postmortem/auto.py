"""New post-mortems announced in chat, and the weekly digest.

When a sync of a source tagged "postmortems" indexes a document for the first time
(knowledge.signals.source_synced), its sections are read back from the index, a one-line
and a short summary are made from them (the report's own summary, impact and root cause,
and its action items with owners) and posted to the POSTMORTEM_DESTINATIONS (alert triage's
Mattermost and Slack webhooks) in POSTMORTEM_CHANNEL. Only reports every signed-in user may
read are quoted; for one of a restricted source the message says a post-mortem appeared and
links to the portal, nothing more. Each announcement is kept with its delivery results and
shown on the post-mortems page.

The weekly digest (`postmortem.weekly_digest`, queued every minute by the scheduler; it
sends once per ISO week, on Monday from 09:00 in TIME_ZONE) lists the past week's
announcements with their one-line summaries.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from typing import Any

import httpx
from django.conf import settings
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from apps.knowledge.models import Document, Source
from apps.scenarios.postmortem import report
from apps.scenarios.postmortem.models import Announcement, Digest, PublishedPostmortem

log = logging.getLogger(__name__)
TAG = "postmortems"
DIGEST_WEEKDAY, DIGEST_HOUR = 0, 9  # Monday, 09:00 local


def _first_sentences(text: str, n: int = 2, limit: int = 400) -> str:
    plain = re.sub(r"[*_`>#|]+", "", text)
    plain = re.sub(r"\s+", " ", plain).strip()
    parts = re.split(r"(?<=[.!?])\s+", plain)
    out = " ".join(parts[:n])
    return out if len(out) <= limit else out[: limit - 1] + "…"


def summarize(title: str, text: str) -> tuple[str, str]:
    """(one line, a few lines) from the report's own sections, cited by section name."""
    _title, found = report.sections(text)
    by_kind = {s.kind: s for s in found}
    lead = by_kind.get("summary") or by_kind.get("impact")
    one_line = f"{title}: {_first_sentences(lead.text, 1, 200)}" if lead else title
    lines = []
    for kind in ("summary", "impact", "root_cause", "mitigation"):
        section = by_kind.get(kind)
        if section and section.text:
            lines.append(f"**{section.title}:** {_first_sentences(section.text)}")
    items = by_kind["action_items"].items if "action_items" in by_kind else []
    if items:
        heading = by_kind["action_items"].title
        shown = [
            f"- {i['text'][:160]}" + (f" ({i['owner']}, {i['due']})" if i["owner"] else "")
            for i in items[:5]
        ]
        lines.append(f"**{heading}:**\n" + "\n".join(shown))
    return one_line[:500], "\n".join(lines)


def _public(source: Source) -> bool:
    return source.enabled and not source.allowed_groups.exists()


def _page_url() -> str:
    return (settings.PORTAL_URL or "").rstrip("/") + reverse("postmortem:summaries")


def _body(kind: str, headline: str, text: str, link: str) -> dict[str, Any]:
    """A Mattermost or Slack incoming-webhook body (the formats alert triage posts)."""
    if kind == "mattermost":
        body: dict[str, Any] = {
            "username": "Opsdesk",
            "text": f"**{headline}**\n{text}\n[{_('Open')}]({link})"[:15000],
        }
    else:
        escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        escaped = re.sub(r"\*\*(.+?)\*\*", r"*\1*", escaped)
        body = {
            "text": headline,
            "blocks": [
                {"type": "header", "text": {"type": "plain_text", "text": headline[:150]}},
                {"type": "section", "text": {"type": "mrkdwn", "text": escaped[:3000] or "—"}},
                {"type": "section", "text": {"type": "mrkdwn", "text": f"<{link}|{_('Open')}>"}},
            ],
        }
    if settings.POSTMORTEM_CHANNEL:
        body["channel"] = settings.POSTMORTEM_CHANNEL
    return body


def post(headline: str, text: str, link: str) -> list[dict[str, Any]]:
    """One attempt to each configured destination; the outcome of each, as kept."""
    from apps.scenarios.alert_triage import crypto
    from apps.scenarios.alert_triage.models import Destination

    results = []
    wanted = list(settings.POSTMORTEM_DESTINATIONS)
    for dest in Destination.objects.filter(name__in=wanted, enabled=True):
        url = crypto.decrypt(dest.url_encrypted)
        result: dict[str, Any] = {
            "destination": dest.name,
            "kind": dest.kind,
            "status": None,
            "error": "",
            "at": timezone.now().isoformat(),
        }
        if url is None:
            result["error"] = "the webhook URL cannot be decrypted"
        else:
            try:
                response = httpx.post(
                    url,
                    json=_body(dest.kind, headline, text, link),
                    timeout=settings.ALERT_DELIVERY_TIMEOUT_SECONDS,
                    follow_redirects=False,
                )
                result["status"] = response.status_code
                if not response.is_success:
                    result["error"] = f"HTTP {response.status_code}: {response.text[:300]}"
            except httpx.HTTPError as exc:
                result["error"] = f"{type(exc).__name__}: {exc}"[:500]
        if result["error"]:
            log.warning("post-mortem post to %s failed: %s", dest.name, result["error"])
        results.append(result)
    return results


def announce(source: Source, external_id: str) -> Announcement | None:
    """Announce one newly indexed document of a post-mortem source (once)."""
    from apps.knowledge.search import documents
    from apps.scenarios.alert_triage.lookup import reader

    doc = Document.objects.filter(source=source, external_id=external_id).first()
    if doc is None or Announcement.objects.filter(source=source, external_id=external_id).exists():
        return None
    if (
        source.type == Source.Type.CONFLUENCE
        and PublishedPostmortem.objects.filter(confluence_page_id=external_id).exists()
    ):
        return None  # the Confluence copy of a report published here: announced already
    public = _public(source)
    title = doc.title or doc.path
    one_line, summary = title, ""
    if public:
        parts = documents.sections(reader(), doc) or []
        text = "\n\n".join(
            ("#" * (len(p.path) + 1) + " " + p.path[-1] + "\n" if p.path else "") + p.text
            for p in parts
        )
        one_line, summary = summarize(title, text)
    with translation.override(settings.ALERT_TRIAGE_LANGUAGE):
        headline = (_("New post-mortem: %(title)s") % {"title": title})[:300]
        if not public:
            summary = _("In a source with restricted access; open it on the portal.")
        row, created = Announcement.objects.get_or_create(
            source=source,
            external_id=external_id,
            defaults={
                "title": title[:500],
                "link": doc.link,
                "one_line": one_line if public else title[:500],
                "summary": summary,
            },
        )
        if created:
            row.posts = post(headline, summary, _page_url())
            row.save(update_fields=["posts"])
    return row


def on_sync_finished(
    sender: Any, source: Source, added: list[str] | None = None, **kwargs: Any
) -> None:
    if TAG not in (source.tags or []) or not added:
        return
    for external_id in added:
        announce(source, external_id)


def week_key(now: Any) -> str:
    year, week, _day = now.isocalendar()
    return f"{year}-W{week:02d}"


def weekly_digest(force: bool = False) -> Digest | None:
    """The past week's post-mortems in one message, once per ISO week (Monday from 09:00
    local), or at once with force."""
    now = timezone.localtime()
    due = (now - timedelta(days=now.weekday() - DIGEST_WEEKDAY)).replace(
        hour=DIGEST_HOUR, minute=0, second=0, microsecond=0
    )
    # Any time after Monday 09:00 of the week: a scheduler that was down sends it late.
    if not force and now < due:
        return None
    key = week_key(now)
    if Digest.objects.filter(week=key).exists():
        return None
    since = timezone.now() - timedelta(days=7)
    rows = list(Announcement.objects.filter(created__gte=since).order_by("created"))
    with translation.override(settings.ALERT_TRIAGE_LANGUAGE):
        headline = _("Post-mortems of the week (%(n)d)") % {"n": len(rows)}
        lines = [
            f"- {timezone.localtime(r.created):%d.%m} {r.one_line or r.title}" for r in rows
        ] or [_("No post-mortems this week.")]
        text = "\n".join(lines)
        digest, created = Digest.objects.get_or_create(week=key, defaults={"text": text})
        if created:
            digest.posts = post(headline, text, _page_url())
            digest.save(update_fields=["posts"])
    return digest if created else None
