"""What the assistant writes in Slack (mrkdwn) and Mattermost (Markdown)."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext as _

from apps.accounts.models import MessengerIdentity
from apps.scenarios.messenger import mattermost, slack
from apps.scenarios.messenger.answer import Reply

SECTION_CHARS = 80


def link_url(base: str, code: str) -> str:
    return f"{base}{reverse('accounts:messenger_link', args=[code])}"


def link_offer(kind: str, url: str) -> str:
    """The message to a messenger user who is not linked: the link, and no answer."""
    name = MessengerIdentity.Kind(kind).label
    text = _(
        "To ask the onboarding assistant, link your %(kind)s account to your portal account "
        "once: open this link while signed in to the portal (it works once, for %(minutes)d "
        "minutes):"
    ) % {"kind": name, "minutes": settings.MESSENGER_LINK_MINUTES}
    return f"{text} {url}"


def asked(user_name: str, question: str) -> str:
    """The thread's first message for a slash command: who asked what."""
    return _("%(user)s asked the onboarding assistant: %(question)s") % {
        "user": user_name,
        "question": question,
    }


def looking() -> str:
    return _("Looking for an answer in the onboarding sources…")


def usage(command: str) -> str:
    return _("Ask a question, e.g. %(example)s") % {
        "example": f"{command} " + _("how do I get read access to the cluster?")
    }


def shared_note() -> str:
    return _(
        "Asked in a shared channel: answered only from sources every portal user may read. "
        "Ask in a direct message for the rest."
    )


def _source_label(source: dict[str, object]) -> str:
    label = str(source.get("title") or source.get("source") or "")
    section = str(source.get("section") or "")
    if section and section != label:
        label = f"{label} — {section[:SECTION_CHARS]}"
    return label


def slack_text(reply: Reply, extra_notes: list[str] | None = None) -> str:
    parts = [slack.mrkdwn(reply.text)] if reply.text else []
    notes = [*reply.notes, *(extra_notes or [])]
    parts += [f"_{slack.escape(n)}_" for n in notes]
    if reply.sources:
        lines = [f"*{_('Sources')}:*"]
        for s in reply.sources:
            lines.append(f"[{s['n']}] {slack.link(str(s['url']), _source_label(s))}")
        parts.append("\n".join(lines))
    if reply.page:
        parts.append(slack.link(reply.page, _("Open in the portal")))
    return "\n\n".join(parts)


def mattermost_text(reply: Reply, extra_notes: list[str] | None = None) -> str:
    parts = [reply.text] if reply.text else []
    notes = [*reply.notes, *(extra_notes or [])]
    parts += [f"_{n}_" for n in notes]
    if reply.sources:
        lines = [f"**{_('Sources')}:**"]
        for s in reply.sources:
            lines.append(f"{s['n']}. {mattermost.link(str(s['url']), _source_label(s))}")
        parts.append("\n".join(lines))
    if reply.page:
        parts.append(mattermost.link(reply.page, _("Open in the portal")))
    return "\n\n".join(parts)
