"""OpenSearch queries on the page, the command line and the HTTP API; and with OPENSEARCH_URL
set, against recorded real OpenSearch responses (_mapping, _validate/query, _count) replayed by
a local HTTP server, since no OpenSearch server can be installed here."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import translation

from apps.accounts.tokens import create_token
from apps.scenarios.engine import registry
from apps.scenarios.engine.base import InputError
from apps.scenarios.models import Run
from apps.scenarios.tests.opensearch_recorded import PASSWORD, USER, Recorded, serving

pytestmark = pytest.mark.django_db

DATA = Path(__file__).parent / "data" / "opensearch"
MAPPING = (DATA / "logs_mapping.json").read_text()
PAGE = "/scenarios/opensearch-dsl/"


@pytest.fixture
def opensearch(settings: Any) -> Iterator[Recorded]:
    """OPENSEARCH_URL pointing at the recorded-response server, with the portal's account."""
    with serving() as server:
        server.answer("GET", "/logs-*/_mapping", 200, "logs_mapping.json")
        server.answer("POST", "/logs-*/_validate/query", 200, "validate_valid.json")
        server.answer("POST", "/logs-*/_count", 200, "count.json")
        settings.OPENSEARCH_URL = server.url
        settings.OPENSEARCH_USERNAME = USER
        settings.OPENSEARCH_PASSWORD = PASSWORD
        settings.OPENSEARCH_CA_FILE = ""
        yield server


def _manage(*args: str) -> tuple[int, str, str]:
    """`manage.py scenario analyze opensearch-dsl ARGS` in this process: (exit, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(SystemExit) as exit_status, translation.override("en"):
        call_command("scenario", "analyze", "opensearch-dsl", *args, stdout=out, stderr=err)
    return int(exit_status.value.code or 0), out.getvalue(), err.getvalue()


# --- the page --------------------------------------------------------------------------------


def test_a_pasted_mapping_and_a_question_give_a_stored_run_with_the_query(
    member_client: Client, member
) -> None:
    page = member_client.get(PAGE)
    assert page.status_code == 200 and 'name="question"' in page.content.decode()
    response = member_client.post(
        PAGE,
        {
            "mode": "paste",
            "text": MAPPING,
            "question": "ошибки сервиса payments за последний час",
            "index": "logs-*",
        },
    )
    assert response.status_code == 302
    run = Run.objects.get(user=member, scenario="opensearch-dsl")
    assert run.params["question"] == "ошибки сервиса payments за последний час"
    html = member_client.get(response["Location"]).content.decode()
    assert 'id="query-devtools"' in html and "GET logs-*/_search" in html
    assert "&quot;service.name&quot;: &quot;payments&quot;" in html and 'id="query-curl"' in html
    assert 'id="query-valid"' in html
    # Wrong method; someone else's run.
    assert member_client.put(PAGE).status_code == 405


def test_an_outsider_cannot_open_the_run_and_anonymous_is_sent_to_log_in(
    member_client: Client, outsider_client: Client, member
) -> None:
    response = member_client.post(
        PAGE, {"mode": "paste", "text": MAPPING, "question": "errors today"}
    )
    run_url = response["Location"]
    assert outsider_client.get(run_url).status_code == 404
    anonymous = Client().get(PAGE)
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]


def test_a_question_no_rule_reads_comes_back_with_the_reason_and_the_input_kept(
    member_client: Client,
) -> None:
    response = member_client.post(
        PAGE,
        {"mode": "paste", "text": MAPPING, "question": "запросы медленнее обычного"},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert (
        "“медленнее”, “обычного”" in html and "logs-2026.12.03" in html
    )  # the mapping is still there
    assert not Run.objects.exists()


def test_a_bad_mapping_names_its_line(member_client: Client) -> None:
    broken = MAPPING.replace('"type": "date"', '"type": "date",,', 1)
    response = member_client.post(PAGE, {"mode": "paste", "text": broken, "question": "errors"})
    assert response.status_code == 400 and 'id="input-error"' in response.content.decode()
    line = next(n for n, text in enumerate(broken.splitlines(), 1) if ",," in text)
    assert f'<span class="bad-line">{line:4d} │' in response.content.decode()


def test_the_page_reads_the_mapping_from_recorded_opensearch_responses_and_counts_hits(
    member_client: Client, member, opensearch: Recorded
) -> None:
    page = member_client.get(PAGE).content.decode()
    assert 'value="live"' in page and 'name="check"' in page
    response = member_client.post(
        PAGE,
        {
            "mode": "live",
            "index": "logs-*",
            "question": "errors of service payments in the last hour",
            "check": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    run = Run.objects.get(user=member)
    assert run.origin == Run.Origin.SYSTEM and run.input_name == "GET logs-*/_mapping"
    assert run.facts["opensearch"] == {
        "valid": True,
        "explanation": json.loads((DATA / "validate_valid.json").read_text())["explanations"][0][
            "explanation"
        ],
        "count": 14074,
    }
    assert [f["rule"] for f in run.findings] == ["opensearch.query", "opensearch.query-hits"]
    methods = [(s.method, s.path) for s in opensearch.seen]
    assert methods == [
        ("GET", "/logs-*/_mapping"),
        ("POST", "/logs-*/_validate/query"),
        ("POST", "/logs-*/_count"),
    ]
    validate, count = opensearch.seen[1], opensearch.seen[2]
    assert validate.query == "explain=true" and validate.body == {
        "query": run.facts["request"]["body"]["query"]
    }
    assert count.body == {"query": run.facts["request"]["body"]["query"]}
    html = member_client.get(response["Location"]).content.decode()
    assert 'id="query-count"' in html and "14074" in html
    assert PASSWORD not in html and PASSWORD not in json.dumps(run.facts)


def test_opensearch_errors_from_recorded_responses_are_said_plainly(
    member_client: Client, opensearch: Recorded, settings: Any
) -> None:
    response = member_client.post(
        PAGE, {"mode": "live", "index": "logs-x*", "question": "errors"}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 200 and "no such index [logs-x*]" in response.content.decode()
    opensearch.answer("GET", "/secret-*/_mapping", 403, "security_403.json")
    response = member_client.post(
        PAGE, {"mode": "live", "index": "secret-*", "question": "errors"}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert (
        "security_exception: no permissions for [indices:admin/mappings/get]"
        in response.content.decode()
    )
    settings.OPENSEARCH_PASSWORD = "wrong"
    response = member_client.post(
        PAGE, {"mode": "live", "index": "logs-*", "question": "errors"}, HTTP_ACCEPT_LANGUAGE="en"
    )
    # The page speaks Russian by default.
    assert "OpenSearch не принял учётные данные портала (401)" in response.content.decode()
    assert not Run.objects.exists()


def test_a_hostile_pattern_never_reaches_opensearch(
    member_client: Client, opensearch: Recorded
) -> None:
    for pattern in ("../_cluster/settings", "_all", "logs-*/_doc/1?x", "logs-*,../../etc"):
        response = member_client.post(
            PAGE, {"mode": "live", "index": pattern, "question": "errors"}
        )
        assert (
            response.status_code == 200
            and "errorlist" in response.content.decode()
            or "error" in response.content.decode()
        )
    assert opensearch.seen == []


def test_an_invalid_verdict_from_recorded_validate_response_is_an_error_finding(
    opensearch: Recorded,
) -> None:
    opensearch.answer("POST", "/logs-*/_validate/query", 200, "validate_invalid.json")
    analysis = registry.get("opensearch-dsl").analyze(
        MAPPING, {"question": "errors today", "index": "logs-*", "check": True}
    )
    rejected = next(f for f in analysis.findings if f.rule == "opensearch.rejected")
    assert (
        rejected.severity == "error"
        and "failed to parse date field [yesterday]" in rejected.evidence
    )
    assert analysis.failed and [s.path for s in opensearch.seen] == ["/logs-*/_validate/query"]


def test_an_unreachable_opensearch_is_a_warning_not_a_lost_query(settings: Any) -> None:
    settings.OPENSEARCH_URL = "http://127.0.0.1:9"
    analysis = registry.get("opensearch-dsl").analyze(
        MAPPING, {"question": "errors today", "index": "logs-*", "check": True}
    )
    assert [f.rule for f in analysis.findings] == ["opensearch.unreachable", "opensearch.query"]
    assert analysis.facts["request"]["body"]["query"]


# --- command line and HTTP API ------------------------------------------------------------------


def test_the_command_line_prints_the_query_or_exits_2_with_the_reason(tmp_path: Path) -> None:
    path = tmp_path / "mapping.json"
    path.write_text(MAPPING)
    code, out, _err = _manage("--mapping", str(path), "5xx за вчера по сервисам")
    assert code == 0 and "GET logs-*/_search" in out and '"field": "service.name"' in out
    code, out, _err = _manage("--mapping", str(path), "--json", "how many errors today")
    assert code == 0 and json.loads(out)["request"]["endpoint"] == "_count"
    code, out, err = _manage("--mapping", str(path), "запросы медленнее обычного")
    assert code == 2 and "медленнее" in err and out == ""
    code, _out, err = _manage("errors")
    assert code == 2 and "--mapping" in err
    # The real command line, once: a new process, its exit status and output.
    real = subprocess.run(
        [
            sys.executable,
            str(settings.BASE_DIR / "manage.py"),
            "scenario",
            "analyze",
            "opensearch-dsl",
            "--mapping",
            str(path),
            "ошибки сервиса payments за последний час",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert real.returncode == 0 and '"service.name": "payments"' in real.stdout, real.stderr


def test_the_command_line_reads_the_mapping_and_checks_against_recorded_opensearch_responses(
    opensearch: Recorded,
) -> None:
    code, out, err = _manage("--index", "logs-*", "--check", "errors in the last hour")
    assert code == 0, err
    assert "14\u202f074 documents match" in out and PASSWORD not in out
    assert [s.path for s in opensearch.seen] == [
        "/logs-*/_mapping",
        "/logs-*/_validate/query",
        "/logs-*/_count",
    ]


def test_the_http_api_gives_the_query_and_400_when_no_rule_applies(member) -> None:
    token = create_token(member, "ci")[1]
    client = Client()

    def post(params: dict[str, Any]) -> Any:
        return client.post(
            "/api/scenarios/opensearch-dsl/analyze",
            data=json.dumps({"text": MAPPING, "params": params}),
            content_type="application/json",
            headers={"Authorization": f"Bearer {token}", "Accept-Language": "en"},
        )

    ok = post({"question": "top 5 hosts with errors today", "index": "logs-*"})
    assert (
        ok.status_code == 200
        and ok.json()["request"]["body"]["aggs"]["by_host"]["terms"]["size"] == 5
    )
    bad = post({"question": "запросы медленнее обычного"})
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "params.question"
    hostile = post({"question": "errors", "index": "../_cluster"})
    assert hostile.status_code == 400 and hostile.json()["error"]["field"] == "params.index"


def test_the_page_card_opens_the_scenario(member_client: Client) -> None:
    index = member_client.get(reverse("scenarios:index")).content.decode()
    assert f'href="{PAGE}"' in index
    with pytest.raises(InputError):
        registry.get("opensearch-dsl").cli_input({"question": "x"})
