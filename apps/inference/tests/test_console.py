"""The "LLM backends" admin console page: who may see it, live status, audited edits."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from apps.accounts.models import AuditEvent
from apps.inference import crypto, poller
from apps.inference.backends import sync_from_settings
from apps.inference.models import Backend

pytestmark = pytest.mark.django_db

LIST = reverse("inference:backends")
NEW = reverse("inference:backend_new")


def _row(page: str, name: str) -> str:
    match = re.search(rf'<tr[^>]*data-backend="{name}".*?</tr>', page, re.DOTALL)
    assert match, f"no row for {name}"
    return match.group(0)


def test_pages_are_admin_only(
    client: Client, admin_client: Client, member_client: Client, outsider_client: Client
) -> None:
    sync_from_settings()
    backend = Backend.objects.get(name="cpu-live")
    edit = reverse("inference:backend_edit", args=[backend.pk])
    toggle = reverse("inference:backend_toggle", args=[backend.pk])
    for url in (LIST, NEW, edit):
        response = client.get(url)
        assert response.status_code == 302 and "next=" in response["Location"]
        assert admin_client.get(url).status_code == 200
        assert outsider_client.get(url).status_code == 403
        assert member_client.get(url).status_code == 403
    assert client.post(toggle, {"enabled": "0"}).status_code == 302
    assert outsider_client.post(toggle, {"enabled": "0"}).status_code == 403
    assert admin_client.post(LIST).status_code == 405
    assert admin_client.delete(edit).status_code == 405
    assert admin_client.get(toggle).status_code == 405
    assert Backend.objects.get(name="cpu-live").enabled


def test_console_navigation_lists_the_page(admin_client: Client) -> None:
    page = admin_client.get(reverse("console:index")).content.decode()
    assert LIST in page and "LLM-бэкенды" in page


def test_dead_backend_shows_unhealthy_with_reason(vllm: str, admin_client: Client) -> None:
    sync_from_settings()
    poller.poll_now()
    page = admin_client.get(LIST).content.decode()
    dead = _row(page, "dead-fast")
    assert 'class="badge bad"' in dead and "недоступен" in dead
    assert "проверка /health не прошла" in dead and "Connection refused" in dead
    live = _row(page, "cpu-live")
    assert 'class="badge ok"' in live and "работает" in live
    assert "%" in live  # KV cache use is shown
    # htmx polling gets the table alone, with the trigger that keeps it polling.
    partial = admin_client.get(LIST, headers={"HX-Request": "true"}).content.decode()
    assert "<html" not in partial and 'hx-trigger="every 3s"' in partial
    assert "dead-fast" in partial


def test_add_backend_keeps_the_key_secret_and_audits(admin_client: Client) -> None:
    response = admin_client.post(
        NEW,
        {
            "name": "heavy-2",
            "url": "http://vllm-heavy-2:8000/v1/",
            "model": "qwen2.5-32b",
            "tier": "heavy",
            "enabled": "on",
            "api_key": "sk-very-secret",
        },
    )
    assert response.status_code == 302 and response["Location"] == LIST
    backend = Backend.objects.get(name="heavy-2")
    assert backend.url == "http://vllm-heavy-2:8000/v1" and backend.tier == "heavy"
    assert "sk-very-secret" not in backend.api_key_encrypted
    assert crypto.decrypt(backend.api_key_encrypted) == "sk-very-secret"
    event = AuditEvent.objects.get(action="llm_backend_created")
    assert event.target == "heavy-2" and event.details["api_key"] == "set"
    assert "sk-very-secret" not in str(event.details)
    edit = admin_client.get(reverse("inference:backend_edit", args=[backend.pk]))
    list_page = admin_client.get(LIST)
    assert b"sk-very-secret" not in edit.content + list_page.content


def test_bad_input_is_refused_and_nothing_is_saved(admin_client: Client) -> None:
    sync_from_settings()
    response = admin_client.post(
        NEW, {"name": "cpu-live", "url": "ftp://x", "model": "", "tier": "huge"}
    )
    assert response.status_code == 200
    errors = re.findall(r'<span class="error">(.*?)</span>', response.content.decode())
    assert len(errors) >= 4  # name taken, URL scheme, model missing, unknown tier
    assert Backend.objects.count() == 3
    assert not AuditEvent.objects.filter(action__startswith="llm_backend").exists()


def test_edit_is_audited_and_the_key_kept_unless_changed(admin_client: Client) -> None:
    backend = Backend.objects.create(
        name="fast-2",
        url="http://vllm-fast-2:8000/v1",
        model="qwen2.5-7b",
        tier="fast",
        api_key_encrypted=crypto.encrypt("old-key"),
    )
    url = reverse("inference:backend_edit", args=[backend.pk])
    form = {"name": "fast-2", "url": backend.url, "model": "qwen3-8b", "tier": "fast"}
    assert admin_client.post(url, form).status_code == 302
    backend.refresh_from_db()
    assert backend.model == "qwen3-8b" and not backend.enabled  # unchecked box
    assert crypto.decrypt(backend.api_key_encrypted) == "old-key"
    event = AuditEvent.objects.get(action="llm_backend_changed")
    assert event.details["model"] == {"from": "qwen2.5-7b", "to": "qwen3-8b"}
    assert "api_key" not in event.details

    admin_client.post(url, {**form, "clear_api_key": "on"})
    backend.refresh_from_db()
    assert backend.api_key_encrypted == ""


def test_settings_backend_cannot_be_renamed(admin_client: Client) -> None:
    sync_from_settings()
    backend = Backend.objects.get(name="cpu-heavy")
    url = reverse("inference:backend_edit", args=[backend.pk])
    page = admin_client.get(url).content.decode()
    assert "LLM_BACKENDS" in page
    form = {"name": "renamed", "url": backend.url, "model": backend.model, "tier": "heavy"}
    admin_client.post(url, {**form, "enabled": "on"})
    assert Backend.objects.filter(name="cpu-heavy").exists()


def test_enable_and_disable_are_audited(admin_client: Client) -> None:
    sync_from_settings()
    backend = Backend.objects.get(name="dead-fast")
    toggle = reverse("inference:backend_toggle", args=[backend.pk])
    response = admin_client.post(toggle, {"enabled": "0"}, headers={"HX-Request": "true"})
    assert response.status_code == 200 and 'id="backend-rows"' in response.content.decode()
    assert 'data-backend="dead-fast"' in response.content.decode()
    backend.refresh_from_db()
    assert not backend.enabled
    assert admin_client.post(toggle, {"enabled": "1"}).status_code == 302
    backend.refresh_from_db()
    assert backend.enabled
    actions = list(
        AuditEvent.objects.filter(target="dead-fast")
        .order_by("created")
        .values_list("action", flat=True)
    )
    assert actions == ["llm_backend_disabled", "llm_backend_enabled"]
