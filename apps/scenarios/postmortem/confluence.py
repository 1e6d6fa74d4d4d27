"""A published post-mortem's copy as a Confluence page.

Configured by POSTMORTEM_CONFLUENCE_SOURCE: the name of a Confluence knowledge source, whose
URL, username, Cloud flag and token (stored encrypted, entered in the admin console) are
the ones the connector reads pages with; so the credentials live in one place and are
rotated there. The page goes to POSTMORTEM_CONFLUENCE_SPACE (default: the source's first
space) under the page POSTMORTEM_CONFLUENCE_PARENT (default: the space's top level).

Confluence Server/Data Center and Cloud REST API (v1, /rest/api/content): the first publish
creates the page (POST), a re-publish updates the same page (PUT with the stored version
number + 1). The body is the Markdown converted by storage.py, which escapes everything.
Confluence being down, refusing the token or holding a newer version never undoes the
Markdown publish: the outcome is kept on the report (page id, version, link or the reason
it failed) and shown on its page.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.knowledge import crypto
from apps.knowledge.ingest.connectors import ConnectorError
from apps.knowledge.ingest.connectors.confluence import ConfluenceConnector
from apps.knowledge.models import Source
from apps.scenarios.postmortem import storage
from apps.scenarios.postmortem.models import PublishedPostmortem

log = logging.getLogger(__name__)
TIMEOUT = 20


class CopyFailed(Exception):
    """The Confluence copy could not be written; the message says why, for the page."""


def configured() -> bool:
    return bool(settings.POSTMORTEM_CONFLUENCE_SOURCE)


def _source() -> Source:
    name = settings.POSTMORTEM_CONFLUENCE_SOURCE
    source = Source.objects.filter(name=name, type=Source.Type.CONFLUENCE).first()
    if source is None:
        raise CopyFailed(
            _("no Confluence source named “%(name)s” (POSTMORTEM_CONFLUENCE_SOURCE)")
            % {"name": name}
        )
    return source


def _space(source: Source) -> str:
    space = settings.POSTMORTEM_CONFLUENCE_SPACE
    if not space:
        spaces = (source.settings or {}).get("spaces") or []
        space = str(spaces[0]) if spaces else ""
    if not space:
        raise CopyFailed(_("no Confluence space to publish to: set POSTMORTEM_CONFLUENCE_SPACE"))
    return space


def _client(source: Source) -> Any:
    try:
        secrets = crypto.decrypt(source.secrets_encrypted)
    except crypto.SecretsUnreadable as exc:
        raise CopyFailed(str(exc)) from None
    try:
        client = ConfluenceConnector(source, secrets)._client()
    except ConnectorError as exc:
        raise CopyFailed(str(exc)) from None
    client.timeout = TIMEOUT
    return client


def _message(response: Any) -> str:
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict) and data.get("message"):
        return str(data["message"])[:300]
    return " ".join((response.text or "").split())[:300]


def _send(client: Any, method: str, path: str, body: dict[str, Any]) -> Any:
    import requests

    from apps.knowledge.ingest.connectors.netguard import AddressRefused

    try:
        # advanced_mode: the raw response, so that each status gets its own message.
        return client.request(method, path, data=body, advanced_mode=True)
    except (requests.RequestException, AddressRefused, OSError) as exc:
        raise CopyFailed(
            _("Confluence at %(url)s cannot be reached: %(error)s")
            % {"url": client.url, "error": f"{type(exc).__name__}: {exc}"[:300]}
        ) from None


def _check(response: Any, source: Source, version: int | None) -> dict[str, Any]:
    status = response.status_code
    if status in (401, 403):
        raise CopyFailed(
            _(
                "Confluence refused the credentials of the source “%(source)s” "
                "(HTTP %(status)d): an admin checks its token in the console"
            )
            % {"source": source.name, "status": status}
        )
    if status == 409:
        raise CopyFailed(
            _(
                "the Confluence page was edited there since it was last published (it is "
                "newer than version %(version)s): its edits were not overwritten. Copy the "
                "changes into the page in Confluence, or delete the page there and publish "
                "again."
            )
            % {"version": version}
        )
    if not 200 <= status < 300:
        raise CopyFailed(
            _("Confluence answered HTTP %(status)d: %(message)s")
            % {"status": status, "message": _message(response)}
        )
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict) or not data.get("id"):
        raise CopyFailed(_("Confluence's answer names no page"))
    return data


def _link(data: dict[str, Any], client: Any) -> str:
    links = data.get("_links") or {}
    webui = str(links.get("webui") or "")
    base = str(links.get("base") or client.url).rstrip("/")
    link = webui if webui.startswith(("http://", "https://")) else base + webui
    # The link is shown as a link: only a web address from the answer, else the page by id.
    if not webui or not link.startswith(("http://", "https://")):
        return f"{str(client.url).rstrip('/')}/pages/viewpage.action?pageId={data['id']}"
    return link


def write(row: PublishedPostmortem) -> None:
    """Create or update the row's Confluence page and keep the outcome on the row (and on
    its run). Never raises for a Confluence failure: the reason is kept instead."""
    try:
        source = _source()
        space = _space(source)
        client = _client(source)
        content: dict[str, Any] = {
            "type": "page",
            "title": row.title,
            "space": {"key": space},
            "body": {"storage": {"value": storage.convert(row.body), "representation": "storage"}},
        }
        data = None
        if row.confluence_page_id:
            version = row.confluence_version or 1
            update = content | {"id": row.confluence_page_id, "version": {"number": version + 1}}
            response = _send(client, "PUT", f"rest/api/content/{row.confluence_page_id}", update)
            # Deleted in Confluence since: published anew.
            if response.status_code != 404:
                data = _check(response, source, version)
        if data is None:
            parent = settings.POSTMORTEM_CONFLUENCE_PARENT
            if parent:
                content["ancestors"] = [{"id": parent}]
            data = _check(_send(client, "POST", "rest/api/content", content), source, None)
    except CopyFailed as exc:
        log.warning("post-mortem %s: Confluence copy failed: %s", row.pk, exc)
        row.confluence_error = str(exc)
    else:
        row.confluence_page_id = str(data["id"])[:50]
        row.confluence_version = int((data.get("version") or {}).get("number") or 1)
        row.confluence_link = _link(data, client)[:2000]
        row.confluence_error = ""
    row.confluence_at = timezone.now()
    row.save(
        update_fields=[
            "confluence_page_id",
            "confluence_version",
            "confluence_link",
            "confluence_error",
            "confluence_at",
        ]
    )
