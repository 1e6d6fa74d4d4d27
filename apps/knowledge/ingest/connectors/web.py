"""A web page, or every page of a sitemap (sitemap index files are followed one level).

Settings: url, sitemap (bool), include (URL prefixes to keep), limit (pages). Responses are
read as a stream and abandoned past KNOWLEDGE_MAX_FILE_MB. Internal addresses are refused
(netguard.py). The version is the sitemap's
<lastmod> when given; otherwise the content hash decides whether a page changed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import PurePosixPath
from urllib.parse import urlparse, urlsplit

import httpx
from lxml import etree

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

TIMEOUT = httpx.Timeout(20.0, connect=5.0)
DEFAULT_LIMIT = 1000


class WebConnector(Connector):
    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        headers = {"User-Agent": "Opsdesk knowledge indexer"}
        if self.secrets.get("token"):
            headers["Authorization"] = f"Bearer {self.secrets['token']}"
        # Every connection, redirects included, goes only to an address netguard allows.
        self.http = netguard.http_client(timeout=TIMEOUT, follow_redirects=True, headers=headers)

    def close(self) -> None:
        self.http.close()

    def _get(self, url: str) -> httpx.Response:
        """GET with the size limit enforced while reading, not after."""
        with self.http.stream("GET", url) as response:
            response.raise_for_status()
            declared = int(response.headers.get("content-length") or 0)
            if declared > max_bytes():
                raise too_big(declared)
            body = bytearray()
            for piece in response.iter_bytes():
                body.extend(piece)
                if len(body) > max_bytes():
                    raise too_big(len(body))
            response._content = bytes(body)
            return response

    def _sitemap(self, url: str, depth: int = 0) -> Iterator[tuple[str, str]]:
        try:
            response = self._get(url)
        except (httpx.HTTPError, FetchError) as exc:
            raise ConnectorError(f"cannot read the sitemap {url}: {exc}") from None
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
        try:
            root = etree.fromstring(response.content, parser=parser)  # noqa: S320
        except etree.XMLSyntaxError as exc:
            raise ConnectorError(f"the sitemap {url} is not valid XML: {exc}") from None
        ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
        if etree.QName(root).localname == "sitemapindex" and depth == 0:
            for loc in root.findall("s:sitemap/s:loc", ns):
                yield from self._sitemap((loc.text or "").strip(), depth + 1)
            return
        for node in root.findall("s:url", ns):
            loc = (node.findtext("s:loc", default="", namespaces=ns) or "").strip()
            lastmod = (node.findtext("s:lastmod", default="", namespaces=ns) or "").strip()
            if loc:
                yield loc, lastmod

    def list_documents(self) -> Iterator[DocRef]:
        url = str(self.settings.get("url", "")).strip()
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConnectorError("the web source needs an http(s) URL")
        prefixes = list(self.settings.get("include") or [])
        limit = int(self.settings.get("limit") or DEFAULT_LIMIT)
        pages = self._sitemap(url) if self.settings.get("sitemap") else iter([(url, "")])
        count = 0
        for loc, lastmod in pages:
            if prefixes and not any(loc.startswith(p) for p in prefixes):
                continue
            yield DocRef(external_id=loc, version=lastmod, path=loc, link=loc)
            count += 1
            if count >= limit:
                return

    def fetch(self, ref: DocRef) -> Fetched:
        try:
            response = self._get(ref.external_id)
        except httpx.HTTPStatusError as exc:
            raise FetchError(f"HTTP {exc.response.status_code} from {ref.external_id}") from None
        except httpx.HTTPError as exc:
            raise FetchError(f"cannot fetch {ref.external_id}: {exc}") from None
        content_type = response.headers.get("content-type", "").lower()
        name = PurePosixPath(urlparse(str(response.url)).path).name or "index.html"
        if "html" in content_type and not name.endswith((".html", ".htm")):
            name += ".html"
        elif "text/plain" in content_type and "." not in name:
            name += ".txt"
        return Fetched(
            data=response.content, name=name, content_type=content_type, link=str(response.url)
        )
