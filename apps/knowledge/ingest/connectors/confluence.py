"""Confluence (Server/Data Center or Cloud) through atlassian-python-api's REST client.

Settings: url (base URL), spaces (keys), username, cloud (bool); secrets: token (a personal
access token, or an API token with the username on Cloud) or password. Pages are listed per
space with their version numbers; the body is the storage format (XHTML), parsed as HTML;
links are the pages' web UI links.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import escape
from typing import Any

from apps.knowledge.ingest.connectors import (
    Connector,
    ConnectorError,
    DocRef,
    Fetched,
    FetchError,
    max_bytes,
    netguard,
    too_big,
)

PAGE_SIZE = 50
_CDATA = re.compile(r"<ac:plain-text-body>\s*<!\[CDATA\[(.*?)\]\]>\s*</ac:plain-text-body>", re.S)


class ConfluenceConnector(Connector):
    def _client(self) -> Any:
        from atlassian import Confluence

        url = str(self.settings.get("url", "")).rstrip("/")
        if not url:
            raise ConnectorError("the Confluence source has no URL")
        username = str(self.settings.get("username", "")) or None
        token = self.secrets.get("token")
        password = self.secrets.get("password")
        kwargs: dict[str, Any] = {
            "cloud": bool(self.settings.get("cloud", False)),
            "timeout": 30,
            # Internal addresses are refused unless allowed (netguard.py).
            "session": netguard.requests_session(),
        }
        if token and not username:
            kwargs["token"] = token  # Server/Data Center personal access token (Bearer)
        else:
            kwargs.update(username=username, password=token or password)
        return Confluence(url, **kwargs)

    def _get(self, client: Any, path: str, params: dict[str, Any]) -> Any:
        try:
            return client.get(path, params=params)
        except Exception as exc:  # requests' and the client's own errors alike
            raise ConnectorError(f"Confluence request {path} failed: {exc}") from None

    def list_documents(self) -> Iterator[DocRef]:
        self.client = self._client()
        base = str(self.settings.get("url", "")).rstrip("/")
        for space in self.settings.get("spaces") or []:
            start = 0
            while True:
                params = {
                    "spaceKey": space,
                    "type": "page",
                    "start": start,
                    "limit": PAGE_SIZE,
                    "expand": "version,space",
                }
                data = self._get(self.client, "rest/api/content", params)
                if not isinstance(data, dict):
                    raise ConnectorError(f"unexpected answer from Confluence for space {space}")
                results = data.get("results") or []
                link_base = str((data.get("_links") or {}).get("base") or base)
                for page in results:
                    webui = str((page.get("_links") or {}).get("webui") or "")
                    yield DocRef(
                        external_id=str(page["id"]),
                        version=str((page.get("version") or {}).get("number", "")),
                        path=f"{space}/{page.get('title', page['id'])}",
                        title=str(page.get("title", "")),
                        link=f"{link_base}{webui}" if webui else "",
                    )
                # The server may cap `limit` below ours: follow its `next` link, not our size.
                if not results or not (data.get("_links") or {}).get("next"):
                    break
                start += int(data.get("size", len(results)))

    def fetch(self, ref: DocRef) -> Fetched:
        try:
            page = self.client.get(
                f"rest/api/content/{ref.external_id}", params={"expand": "body.storage,version"}
            )
        except Exception as exc:
            raise FetchError(f"Confluence page {ref.external_id}: {exc}") from None
        html = str(((page or {}).get("body") or {}).get("storage", {}).get("value", ""))
        # Storage format keeps code in CDATA inside macros, which HTML parsers drop: turn
        # those bodies into <pre> blocks so code stays whole and searchable.
        html = _CDATA.sub(lambda m: f"<pre>{escape(m.group(1))}</pre>", html)
        title = escape(ref.title)
        data = f"<html><head><title>{title}</title></head><body>{html}</body></html>".encode()
        if len(data) > max_bytes():
            raise too_big(len(data))
        return Fetched(
            data=data, name="page.html", content_type="text/html", title=ref.title, link=ref.link
        )
