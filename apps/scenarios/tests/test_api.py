"""POST /api/scenarios/<slug>/analyze: the CLI's JSON over HTTP with a personal API token."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import translation

from apps.accounts.tokens import create_token, revoke_token
from apps.scenarios.tests.test_pages import SITE, UNTERMINATED

pytestmark = pytest.mark.django_db

URL = "/api/scenarios/proxy-config/analyze"


@pytest.fixture
def token(member) -> str:
    return create_token(member, "ci")[1]


def post(
    body: object,
    token: str = "",
    url: str = URL,
    client: Client | None = None,
    headers: dict[str, str] | None = None,
):
    # Messages follow Accept-Language (Russian when a tool sends none).
    headers = {"Accept-Language": "en", **(headers or {})}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = body if isinstance(body, bytes | str) else json.dumps(body)
    return (client or Client()).post(
        url, data=data, content_type="application/json", headers=headers
    )


def test_the_findings_are_the_clis_json(token: str, tmp_path) -> None:
    response = post({"text": SITE, "params": {"kind": "nginx"}}, token)
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    body = response.json()
    path = tmp_path / "site.conf"
    path.write_text(SITE)
    out = io.StringIO()
    with pytest.raises(SystemExit) as exit_status, translation.override("en"):
        call_command("scenario", "analyze", "proxy-config", str(path), "--json", stdout=out)
    assert exit_status.value.code == 1
    cli = json.loads(out.getvalue())
    # The same findings and the same facts (their timings aside) as the command line.
    assert body["findings"] == cli["findings"] and set(body) == set(cli)
    alias = next(f for f in body["findings"] if f["rule"] == "gixy.alias_traversal")
    assert {"severity", "rule", "message", "line", "evidence"} <= set(alias) and alias["line"] == 7


def test_bad_input_is_400_naming_the_field_or_line(token: str) -> None:
    cases = [
        ({"text": UNTERMINATED}, "text", 3, "not terminated"),
        ({"text": "garbage\n"}, "params.kind", None, "nginx or an HAProxy"),
        ({"text": 42}, "text", None, "must be a string"),
        ({"text": SITE, "params": []}, "params", None, "must be an object"),
        ({"params": {}}, "text", None, "must be a string"),
    ]
    for body, field, line, words in cases:
        response = post(body, token)
        error = response.json()["error"]
        assert response.status_code == 400, body
        assert (error["field"], error["line"]) == (field, line) and words in error["message"], error
    russian = post({"text": "garbage\n"}, token, headers={"Accept-Language": "ru,en;q=0.5"})
    assert "выберите тип" in russian.json()["error"]["message"]
    deep = b'{"text": "x", "params": ' + b"[" * 100_000 + b"}"
    for raw, words in [
        (b'{"text": "x",', "line 1, column 14"),
        (b"[1]", "JSON object"),
        (deep, "nests deeper than 64 levels"),
    ]:
        response = post(raw, token)
        assert response.status_code == 400 and words in response.json()["error"]["message"]


def test_tokens_sessions_sizes_methods_and_unknown_scenarios(token: str, member) -> None:
    assert post({"text": SITE}, "odk_not-a-token").status_code == 401
    missing = post({"text": SITE})
    assert missing.status_code == 401 and missing["WWW-Authenticate"].startswith("Bearer")
    # A signed-in browser is not a token: no session call, so no cross-site request either.
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(member)
    assert post({"text": SITE}, client=browser).status_code == 401
    assert post({"text": SITE}, token, client=browser).status_code == 200
    big = post({"text": "#" * (7 * 1024 * 1024)}, token)
    assert big.status_code == 413 and big.json()["error"]["field"] == "text"
    assert post({"text": "# x\n" * 600_000}, token).status_code == 413  # 2.4 MB of text
    unknown = post({"text": SITE}, token, url="/api/scenarios/no-such/analyze")
    assert unknown.status_code == 404 and "no-such" in unknown.json()["error"]["message"]
    wrong = Client().get(URL, headers={"Authorization": f"Bearer {token}"})
    assert wrong.status_code == 405 and wrong["Allow"] == "POST"
    revoke_token(member, member.api_tokens.get().pk)
    assert post({"text": SITE}, token).status_code == 401
