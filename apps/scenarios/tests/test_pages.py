"""The scenario pages, driven by real scenarios (proxy-config with the real nginx, ceph-health):
the form, findings at once, errors naming the line, history, and who may see a run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from apps.scenarios.models import Run

pytestmark = pytest.mark.django_db

CEPH = Path(__file__).parent / "data" / "ceph"
SITE = """events {}
http {
  server_tokens off;
  server {
    listen 80;
    location /static {
      alias /srv/static/;
    }
  }
}
"""
UNTERMINATED = "http {\n  server {\n    listen 80\n  }\n}\n"


def page_url(slug: str = "proxy-config") -> str:
    return reverse("scenarios:page", args=[slug])


def test_index_links_the_cards_of_scenarios_that_exist(member_client: Client) -> None:
    page = member_client.get(reverse("scenarios:index")).content.decode()
    assert f'href="{page_url()}"' in page and f'href="{page_url("ceph-health")}"' in page
    assert 'href="/search/"' in page  # the knowledge search card
    # A card without a scenario yet does not pretend to open one; a built one opens it.
    from apps.scenarios.catalog import SCENARIOS
    from apps.scenarios.engine import registry

    live = registry.available()
    for card in SCENARIOS:
        tag = re.search(rf'id="scenario-{card.slug}"[^>]*>', page)
        assert tag is not None, card.slug
        if card.slug != "search":
            assert ("href" in tag.group(0)) == (card.slug in live), card.slug
    assert member_client.post(reverse("scenarios:index")).status_code == 405
    anonymous = Client().get(reverse("scenarios:index"))
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]


def test_a_pasted_config_is_stored_and_its_findings_show_at_once(
    member_client: Client, member
) -> None:
    form = member_client.get(page_url())
    assert form.status_code == 200
    html = form.content.decode()
    assert "Nginx и HAProxy" in html and 'name="text"' in html and "Анализировать" in html
    response = member_client.post(page_url(), {"mode": "paste", "text": SITE})
    run = Run.objects.get(user=member)
    assert response.status_code == 302
    assert response["Location"] == reverse("scenarios:run", args=["proxy-config", run.pk])
    assert run.input_text == SITE and run.origin == "paste" and run.failed
    alias = next(f for f in run.findings if f["rule"] == "gixy.alias_traversal")
    assert alias["line"] == 7 and alias["severity"] == "error"
    page = member_client.get(response["Location"]).content.decode()
    # The finding, its line, evidence and fix, before any model was asked.
    block = page[page.index('class="finding sev-error"') :]
    assert "gixy.alias_traversal" in block and 'href="#L7"' in block
    assert "alias /srv/static/;" in block and "events {}" in page
    assert 'id="L7"' in page  # the numbered input the line links to
    assert member_client.post(response["Location"]).status_code == 405
    assert member_client.put(page_url()).status_code == 405
    assert member_client.get(page_url("no-such-scenario")).status_code == 404


def test_bad_input_names_the_line_and_loses_nothing(member_client: Client, member) -> None:
    response = member_client.post(page_url(), {"mode": "paste", "text": UNTERMINATED})
    assert response.status_code == 400 and not Run.objects.exists()
    page = response.content.decode()
    assert "Строка 3: &quot;listen&quot; is not terminated by &quot;;&quot;" in page
    assert "строка 3: &quot;listen&quot;" in page  # at the field too
    assert '<span class="bad-line">   3 │     listen 80</span>' in page
    assert "listen 80\n  }" in page  # the input is still in the box
    # An uploaded file that does not parse comes back as pasted text, so it can be fixed.
    upload = SimpleUploadedFile("site.conf", UNTERMINATED.encode())
    response = member_client.post(page_url(), {"mode": "upload", "upload": upload})
    assert response.status_code == 400
    assert re.search(r'value="paste"[^>]*checked', response.content.decode())
    assert "listen 80\n  }" in response.content.decode()
    # Empty, binary and oversized inputs are refused by the field they came in.
    for data, words in [
        ({"mode": "paste", "text": "  \n"}, "Вставьте"),
        ({"mode": "upload", "upload": SimpleUploadedFile("x.bin", b"\x00\x01")}, "двоичн"),
        ({"mode": "upload"}, "Выберите файл"),
        ({"mode": "git", "path": "a.conf"}, "Выберите Git"),
    ]:
        response = member_client.post(page_url(), data)
        assert response.status_code == 200 and words in response.content.decode(), words
    assert not Run.objects.exists()


def test_an_uploaded_file_is_analyzed_like_a_pasted_one(member_client: Client, member) -> None:
    detail = (CEPH / "full_detail.txt").read_bytes()
    upload = SimpleUploadedFile("health.txt", detail)
    response = member_client.post(page_url("ceph-health"), {"mode": "upload", "upload": upload})
    run = Run.objects.get(user=member)
    assert response.status_code == 302 and run.origin == "upload" and run.title == "health.txt"
    assert run.findings and run.input_text == detail.decode()


def test_history_lists_own_runs_and_outsiders_see_none_of_them(
    member_client: Client, outsider_client: Client, member
) -> None:
    member_client.post(page_url(), {"mode": "paste", "text": SITE})
    run = Run.objects.get(user=member)
    history = member_client.get(reverse("scenarios:history")).content.decode()
    assert reverse("scenarios:run", args=["proxy-config", run.pk]) in history
    filtered = member_client.get(reverse("scenarios:history"), {"scenario": "ceph-health"})
    assert reverse("scenarios:run", args=["proxy-config", run.pk]) not in filtered.content.decode()
    assert member_client.post(reverse("scenarios:history")).status_code == 405
    assert "events {}" not in outsider_client.get(reverse("scenarios:history")).content.decode()
    run_url = reverse("scenarios:run", args=["proxy-config", run.pk])
    assert outsider_client.get(run_url).status_code == 404
    assert outsider_client.get(run_url.replace("proxy-config", "ceph-health")).status_code == 404
    delete = reverse("scenarios:delete", args=["proxy-config", run.pk])
    assert outsider_client.post(delete).status_code == 404 and Run.objects.filter(pk=run.pk)
    assert member_client.get(delete).status_code == 405
    assert member_client.post(delete).status_code == 302 and not Run.objects.exists()


def test_edit_and_run_again_refills_the_form(member_client: Client, member) -> None:
    member_client.post(page_url(), {"mode": "paste", "text": SITE})
    run = Run.objects.get(user=member)
    again = member_client.get(page_url(), {"from": run.pk}).content.decode()
    assert "alias /srv/static/;" in again
    # Another user's run id fills nothing.
    other = Client()
    other.force_login(type(member).objects.create_user("other"))
    assert "alias /srv/static/;" not in other.get(page_url(), {"from": run.pk}).content.decode()


def test_a_tool_that_is_not_installed_is_named_on_the_page(
    member_client: Client, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    from apps.scenarios.engine import runner

    # A server where nothing is installed on the tools' path.
    monkeypatch.setattr(runner, "tool_path", lambda: str(tmp_path))
    page = member_client.get(page_url()).content.decode()
    banner = page[page.index('id="missing-tools"') :].split("</div>")[0]
    assert "nginx, haproxy, gixy" in banner and "Не установлены" in banner
    assert 'id="missing-tools"' not in member_client.get(page_url("ceph-health")).content.decode()
