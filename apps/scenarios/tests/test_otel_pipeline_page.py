"""The telemetry pipeline page: collector and Data Prepper told apart by content or chosen,
pasted error logs matched against the catalog of known errors, the model's proposed patch
checked again and shown with 0 errors or what remains; hostile input refused at its line."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import translation

from apps.scenarios.engine import registry
from apps.scenarios.engine.checks import Verdict
from apps.scenarios.models import Run
from apps.scenarios.tests.test_ansible_hostile import BILLION_LAUGHS

pytestmark = pytest.mark.django_db

URL = reverse("scenarios:page", args=["otel-pipeline"])
DATA = Path(__file__).parent / "data" / "otel"


def test_the_form_offers_the_kind_and_a_box_for_error_logs(member_client: Client) -> None:
    html = member_client.get(URL).content.decode()
    assert 'name="kind"' in html and 'value="collector"' in html and 'value="data-prepper"' in html
    assert 'name="logs"' in html and "Журналы ошибок" in html
    member_client.cookies["django_language"] = "en"
    english = member_client.get(URL).content.decode()
    assert "Data Prepper pipelines" in english and "Error logs (optional)" in english


def test_a_collector_config_is_told_by_content_and_its_logs_matched_apart(
    member_client: Client, member
) -> None:
    member_client.cookies["django_language"] = "en"
    response = member_client.post(
        URL,
        {
            "mode": "paste",
            "text": (DATA / "collector_broken.yaml").read_text(),
            "logs": (DATA / "errors.log").read_text(),
        },
    )
    assert response.status_code == 302, response.content.decode()[-2000:]
    run = Run.objects.get(user=member)
    assert run.facts["kind"] == "collector" and run.facts["detected"] is True
    assert run.facts["log_matches"] >= 3 and run.failed
    reference = next(f for f in run.findings if f["rule"] == "otel.not-configured")
    assert reference["line"] == 30 and "otlp/tempo" in reference["message"]
    page = member_client.get(response["Location"]).content.decode()
    assert "OpenTelemetry Collector configuration" in page and "told by content" in page
    assert 'id="log-matches"' in page and "log.collector.queue-full" in page
    assert "logs, line 1" in page and 'href="#L30"' in page


def test_data_prepper_is_told_apart_and_a_chosen_kind_is_kept(
    member_client: Client, member
) -> None:
    member_client.cookies["django_language"] = "en"
    text = (DATA / "dataprepper_broken.yaml").read_text()
    member_client.post(URL, {"mode": "paste", "text": text})
    member_client.post(URL, {"mode": "paste", "text": text, "kind": "data-prepper"})
    detected, chosen = Run.objects.filter(user=member).order_by("pk")
    assert detected.facts["kind"] == chosen.facts["kind"] == "data-prepper"
    assert detected.facts["detected"] is True and chosen.facts["detected"] is False
    assert any(f["rule"].startswith("dataprepper.") for f in chosen.findings)
    page = member_client.get(reverse("scenarios:run", args=["otel-pipeline", chosen.pk]))
    html = page.content.decode()
    assert "Data Prepper pipelines" in html and "as chosen" in html
    assert "no Data Prepper binary runs here" in html


def test_logs_alone_are_matched_against_the_catalog_at_their_lines(
    member_client: Client, member
) -> None:
    response = member_client.post(URL, {"mode": "paste", "text": (DATA / "errors.log").read_text()})
    run = Run.objects.get(user=member)
    assert run.facts["kind"] == "logs"
    queue = next(f for f in run.findings if f["rule"] == "log.collector.queue-full")
    assert queue["line"] == 1 and queue["why"] and queue["fix"] and queue["refs"]
    page = member_client.get(response["Location"]).content.decode()
    assert 'id="log-matches"' in page and queue["refs"][0] in page


def test_a_proposed_patch_is_checked_again_and_shows_zero_errors_or_what_remains() -> None:
    scenario = registry.get("otel-pipeline")
    broken = (DATA / "collector_broken.yaml").read_text()
    before = scenario.analyze(broken, {})
    fixed = (DATA / "collector_docs.yaml").read_text()
    partly = broken.replace("otlp/tempo", "otlp")
    answer = (
        f"The whole file:\n\n```yaml\n{fixed}```\n\nOr the smallest change:\n\n"
        f"```yaml\n{partly}```\n\n```sh\notelcol validate --config otelcol.yaml\n```\n"
    )
    with translation.override("en"):
        checks = scenario.check_answer(answer, before)
    assert [c.verdict for c in checks] == [Verdict.PASSED, Verdict.FAILED, Verdict.UNCHECKED]
    assert checks[0].message.startswith("0 errors.") and "otel.not-configured" in checks[0].message
    assert checks[0].ready and not checks[1].ready
    remains = checks[1].message
    assert "errors remain:" in remains and "line 9: " in remains
    assert "otlp/tempo" not in remains and "Fixed: " in remains
    assert "otel.not-configured" in remains.split("Fixed: ")[1]


def test_the_checked_patch_is_shown_on_the_run_page(member_client: Client, member) -> None:
    from apps.scenarios import actions

    member_client.cookies["django_language"] = "en"
    broken = (DATA / "collector_broken.yaml").read_text()
    member_client.post(URL, {"mode": "paste", "text": broken, "explain": ""})
    run = Run.objects.get(user=member)
    scenario = registry.get("otel-pipeline")
    answer = f"```yaml\n{(DATA / 'collector_docs.yaml').read_text()}```\n"
    checks = scenario.check_answer(answer, scenario.analyze(broken, {}))
    Run.objects.filter(pk=run.pk).update(
        answer=answer, status=Run.Status.COMPLETE, checks=actions.checks_as_data(checks)
    )
    page = member_client.get(reverse("scenarios:run", args=["otel-pipeline", run.pk]))
    html = page.content.decode()
    assert 'data-verdict="passed"' in html and "0 errors." in html


@pytest.mark.parametrize(
    ("field", "text", "line", "words"),
    [
        ("text", BILLION_LAUGHS, 9, "Строка 9:"),
        (
            "text",
            "receivers:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 300)),
            65,
            "Строка 65:",
        ),
    ],
    ids=["yaml-bomb", "deep-nesting"],
)
def test_hostile_configs_are_refused_at_their_line_at_once(
    member_client: Client, field: str, text: str, line: int, words: str
) -> None:
    started = time.monotonic()
    response = member_client.post(URL, {"mode": "paste", field: text})
    assert response.status_code == 400 and not Run.objects.exists()
    page = response.content.decode()
    assert words in page and 'class="bad-line"' in page
    assert time.monotonic() - started < 5


def test_a_file_placeholder_reads_nothing_from_the_server(member_client: Client, member) -> None:
    text = (
        (DATA / "collector_docs.yaml").read_text().replace("0.0.0.0:4317", "${file:/etc/passwd}", 1)
    )
    response = member_client.post(URL, {"mode": "paste", "text": text})
    assert response.status_code == 302
    page = member_client.get(response["Location"]).content.decode()
    assert "root:x:0:0" not in page and "root:x:0:0" not in str(
        Run.objects.get(user=member).findings
    )


def test_twenty_megabytes_of_file_or_logs_are_refused_naming_the_limit(
    member_client: Client,
) -> None:
    big = b"receivers:\n" + b"#" * (20 * 1024 * 1024)
    started = time.monotonic()
    upload = member_client.post(
        URL, {"mode": "upload", "upload": SimpleUploadedFile("otelcol.yaml", big)}
    )
    assert "20.0 МБ" in upload.content.decode() and not Run.objects.exists()
    logs = "2026-12-04 error sending queue is full\n" * 60_000  # 2.3 MB, under the request limit
    pasted = member_client.post(
        URL, {"mode": "paste", "text": (DATA / "collector_docs.yaml").read_text(), "logs": logs}
    )
    assert pasted.status_code == 200 and not Run.objects.exists()
    assert "не больше 2 МБ" in pasted.content.decode()
    assert time.monotonic() - started < 15
