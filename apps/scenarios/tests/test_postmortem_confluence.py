"""A published post-mortem's Confluence copy, against a local HTTP server that answers like
Confluence Server/Data Center's REST API (/rest/api/content: create with POST, update with
PUT and the next version number, 409 for a stale version, 401 for a refused token) in the
recorded response shapes; no Confluence runs here (proprietary, licensed). The page content
in the answers is invented."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import ip_network
from typing import Any
from xml.etree import ElementTree

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from apps.knowledge import actions as knowledge
from apps.knowledge.models import Document, Source
from apps.scenarios.models import Announcement, PublishedPostmortem, Run
from apps.scenarios.postmortem import auto, storage
from apps.scenarios.tests.test_postmortem_publish import _draft, empty_index  # noqa: F401
from common.testing import free_port

pytestmark = pytest.mark.django_db
ALLOWED = {"h1", "h2", "h3", "h4", "h5", "h6", "p", "br", "ul", "ol", "li", "table", "tbody"}
ALLOWED |= {"tr", "th", "td", "pre", "code", "strong", "em", "a", "root"}


class FakeWiki:
    """Pages kept in memory; answers in the shapes Confluence Server 7/8 records."""

    def __init__(self, refuse: bool = False) -> None:
        self.pages: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str, dict[str, str], Any]] = []
        self.refuse = refuse
        self.next_id = 229380

    def content(self, host: str, page: dict[str, Any]) -> dict[str, Any]:
        base = f"http://{host}"
        return {
            "id": page["id"],
            "type": "page",
            "status": "current",
            "title": page["title"],
            "space": {"id": 98305, "key": page["space"], "name": "Operations", "type": "global"},
            "version": {
                "by": {"type": "known", "username": "svc-opsdesk", "displayName": "Opsdesk"},
                "when": "2026-03-06T10:15:30.000+03:00",
                "number": page["version"],
                "minorEdit": False,
            },
            "ancestors": [{"id": a["id"], "type": "page"} for a in page["ancestors"]],
            "body": {"storage": {"value": page["body"], "representation": "storage"}},
            "_links": {
                "webui": f"/pages/viewpage.action?pageId={page['id']}",
                "edit": f"/pages/resumedraft.action?draftId={page['id']}",
                "tinyui": "/x/BIAD",
                "self": f"{base}/rest/api/content/{page['id']}",
                "base": base,
                "context": "",
            },
        }

    def answer(self, method: str, path: str, headers: Any, body: Any) -> tuple[int, Any]:
        self.requests.append((method, path, dict(headers), body))
        host = headers["Host"]
        if self.refuse:
            return 401, {"statusCode": 401, "message": "This request requires authentication"}
        if method == "POST" and path == "/rest/api/content":
            self.next_id += 1
            page = {
                "id": str(self.next_id),
                "title": body["title"],
                "space": body["space"]["key"],
                "ancestors": body.get("ancestors") or [],
                "body": body["body"]["storage"]["value"],
                "version": 1,
            }
            self.pages[page["id"]] = page
            return 200, self.content(host, page)
        if method == "PUT" and path.startswith("/rest/api/content/"):
            stored = self.pages.get(path.rsplit("/", 1)[-1])
            if stored is None:
                return 404, {"statusCode": 404, "message": "No content found with id"}
            page = stored
            if body["version"]["number"] != page["version"] + 1:
                return 409, {
                    "statusCode": 409,
                    "data": {"authorized": False, "valid": True, "errors": [], "successful": False},
                    "message": "Version must be incremented on update. Current version is: "
                    f"{page['version']}",
                }
            page.update(
                title=body["title"],
                body=body["body"]["storage"]["value"],
                version=page["version"] + 1,
            )
            return 200, self.content(host, page)
        return 404, {"statusCode": 404, "message": "null for uri: " + path}

    @contextmanager
    def serve(self) -> Iterator[str]:
        wiki = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                size = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(size) if size else b""
                body = json.loads(raw) if raw else None
                status, data = wiki.answer(self.command, self.path, self.headers, body)
                payload = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json;charset=UTF-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = _any  # noqa: N815 (http.server's naming)

            def log_message(self, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()
            server.server_close()


@pytest.fixture
def wiki_settings(settings: Any, empty_index: None) -> Any:  # noqa: F811
    settings.KNOWLEDGE_FETCH_ALLOWED_NETWORKS = [ip_network("127.0.0.1/32")]
    settings.POSTMORTEM_CONFLUENCE_SOURCE = "wiki-ops"
    settings.POSTMORTEM_CONFLUENCE_SPACE = "OPS"
    settings.POSTMORTEM_CONFLUENCE_PARENT = "98300"
    return settings


def _wiki_source(admin: User, url: str) -> Source:
    return knowledge.save_source(
        admin,
        name="wiki-ops",
        type=Source.Type.CONFLUENCE,
        groups=["sre"],
        settings={"url": url, "spaces": ["OPS"]},
        secrets={"token": "pat-secret-123"},
    )


def _publish(
    client: Client, run: Run, body: str, title: str = "Payments 502", lang: str = "en"
) -> Any:
    client.cookies["django_language"] = lang  # the author's language
    response = client.post(
        reverse("postmortem:publish", args=[run.pk]),
        {"title": title, "incident": "INC-4242", "body": body, "groups": ["sre"]},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    return response


def test_recorded_confluence_api_create_then_republish_updates_the_same_page(
    wiki_settings: Any, admin_user: User, member_client: Client, member: User
) -> None:
    wiki = FakeWiki()
    with wiki.serve() as url:
        _wiki_source(admin_user, url)
        run = _draft(member_client, member)
        first = _publish(member_client, run, "## Summary\n\nPool sized **5** instead of 50.")
        row = PublishedPostmortem.objects.get()
        assert row.indexed is not None and row.confluence_error == ""
        (method, path, headers, sent) = wiki.requests[-1]
        assert (method, path) == ("POST", "/rest/api/content")
        assert headers["Authorization"] == "Bearer pat-secret-123"
        assert sent["space"] == {"key": "OPS"} and sent["ancestors"] == [{"id": "98300"}]
        assert sent["title"] == "Payments 502" and sent["type"] == "page"
        assert sent["body"]["storage"]["representation"] == "storage"
        assert "<h2>Summary</h2>" in sent["body"]["storage"]["value"]
        assert "<strong>5</strong>" in sent["body"]["storage"]["value"]
        page_id = row.confluence_page_id
        assert row.confluence_version == 1
        assert row.confluence_link == f"{url}/pages/viewpage.action?pageId={page_id}"
        shown = member_client.get(first["Location"])
        assert row.confluence_link.encode() in shown.content
        run.refresh_from_db()
        assert run.facts["published"]["confluence_link"] == row.confluence_link
        page = member_client.get(reverse("scenarios:run", args=["postmortem", run.pk]))
        assert row.confluence_link.encode() in page.content

        # Published again from the same run: the same document and page, version 2.
        form = member_client.get(reverse("postmortem:publish", args=[run.pk]))
        assert b"Pool sized **5**" in form.content and b'id="republish"' in form.content
        _publish(member_client, run, "## Summary\n\nPool sized 5; now 50.", title="Payments")
        assert PublishedPostmortem.objects.count() == 1
        again = PublishedPostmortem.objects.get()
        assert again.path == row.path and again.confluence_page_id == page_id
        assert again.confluence_version == 2 and again.confluence_error == ""
        (method, path, _h, sent) = wiki.requests[-1]
        assert (method, path) == ("PUT", f"/rest/api/content/{page_id}")
        assert sent["version"] == {"number": 2} and sent["title"] == "Payments"
        assert wiki.pages[page_id]["version"] == 2 and "now 50" in wiki.pages[page_id]["body"]

    # The wiki source's next sync finds the page: the report was announced when published.
    wiki_source = Source.objects.get(name="wiki-ops")
    Document.objects.create(source=wiki_source, external_id=page_id, title="Payments")
    assert auto.announce(wiki_source, page_id) is None
    assert not Announcement.objects.filter(source=wiki_source).exists()


def test_recorded_confluence_api_409_when_the_page_was_edited_there(
    wiki_settings: Any, admin_user: User, member_client: Client, member: User
) -> None:
    wiki = FakeWiki()
    with wiki.serve() as url:
        _wiki_source(admin_user, url)
        run = _draft(member_client, member)
        _publish(member_client, run, "## Summary\n\nfirst")
        row = PublishedPostmortem.objects.get()
        wiki.pages[row.confluence_page_id]["version"] = 3  # someone edited it in Confluence
        response = _publish(member_client, run, "## Summary\n\nsecond", lang="ru")
    row.refresh_from_db()
    assert row.indexed is not None and "second" in row.body  # the Markdown is published
    # Said in the author's language (Russian here).
    assert "страницу в Confluence изменили после последней публикации" in row.confluence_error
    assert "версия новее 1" in row.confluence_error
    assert row.confluence_version == 1 and wiki.pages[row.confluence_page_id]["body"] != ""
    assert "second" not in wiki.pages[row.confluence_page_id]["body"]
    shown = member_client.get(response["Location"])
    assert "Последнее обновление в Confluence не удалось" in shown.content.decode()


def test_recorded_confluence_api_401_names_the_source_token(
    wiki_settings: Any, admin_user: User, member_client: Client, member: User
) -> None:
    wiki = FakeWiki(refuse=True)
    with wiki.serve() as url:
        _wiki_source(admin_user, url)
        run = _draft(member_client, member)
        response = _publish(member_client, run, "## Summary\n\ntext")
    row = PublishedPostmortem.objects.get()
    assert row.indexed is not None and row.confluence_link == ""
    assert "refused the credentials of the source “wiki-ops” (HTTP 401)" in row.confluence_error
    shown = member_client.get(response["Location"])
    assert "The Confluence copy failed" in shown.content.decode()


def test_confluence_down_the_markdown_is_still_published_and_the_page_says_why(
    wiki_settings: Any, admin_user: User, member_client: Client, member: User
) -> None:
    _wiki_source(admin_user, f"http://127.0.0.1:{free_port()}")  # nothing listens
    run = _draft(member_client, member)
    response = _publish(member_client, run, "## Summary\n\nConfluence is down today.")
    row = PublishedPostmortem.objects.get()
    assert row.indexed is not None and row.confluence_link == ""
    assert "cannot be reached" in row.confluence_error
    shown = member_client.get(response["Location"])
    assert "cannot be reached" in shown.content.decode()


HOSTILE = """# Report <script>alert(1)</script>

## Timeline
| T | time | event |
|---|---|---|
| T1 | 14:02 | <img src=x onerror=alert(1)> & "quotes" |

<ac:structured-macro ac:name="html"><ac:plain-text-body><![CDATA[<script>steal()</script>]]></ac:plain-text-body></ac:structured-macro>

- [x] [click](javascript:alert(1)) and [ok](https://wiki.example/x?a=1&b=2)
- `<b>code</b>` ]]> \x01\x0b

```
</pre><script>x()</script>
```
"""


def test_hostile_markdown_never_reaches_the_recorded_confluence_api_as_markup(
    wiki_settings: Any, admin_user: User, member_client: Client, member: User
) -> None:
    wiki = FakeWiki()
    with wiki.serve() as url:
        _wiki_source(admin_user, url)
        run = _draft(member_client, member)
        _publish(member_client, run, HOSTILE)
    value = wiki.requests[-1][3]["body"]["storage"]["value"]
    # Well-formed XHTML; the text is what this test sent, parsed to check its elements.
    tree = ElementTree.fromstring(f"<root>{value}</root>")  # noqa: S314
    assert {el.tag for el in tree.iter()} <= ALLOWED
    assert [a.get("href") for a in tree.iter("a")] == ["https://wiki.example/x?a=1&b=2"]
    for markup in ("<script", "<img", "<ac:", "<![CDATA[", 'javascript:alert(1)">'):
        assert markup not in value
    text = "".join(tree.itertext())
    assert "<script>alert(1)</script>" in text and "<ac:structured-macro" in text
    assert "<![CDATA[<script>steal()</script>]]>" in text and "</pre><script>x()</script>" in text
    assert "[click](javascript:alert(1))" in text and "\x01" not in text


def test_storage_format_of_the_default_template_shapes() -> None:
    value = storage.convert(
        "# T\n\n| Field | Value |\n|---|---|\n| Incident | INC-1 |\n\n1. one\n2. two\n\n"
        "- [ ] TODO @ivan canary\n\nline one\nline *two*"
    )
    assert value == (
        "<h1>T</h1><table><tbody><tr><th>Field</th><th>Value</th></tr>"
        "<tr><td>Incident</td><td>INC-1</td></tr></tbody></table>"
        "<ol><li>one</li><li>two</li></ol><ul><li>☐ TODO @ivan canary</li></ul>"
        "<p>line one<br/>line <em>two</em></p>"
    )
