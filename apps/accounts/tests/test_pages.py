"""Every page: anonymous goes to login, wrong methods get 405, outsiders stay out of the console."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db

MEMBER_PAGES = [
    "home",
    "chat:index",
    "knowledge:search",
    "scenarios:index",
    "capacity:planner",
    "accounts:profile",
]
CONSOLE_PAGES = ["console:index", "console:users", "console:audit"]


@pytest.mark.parametrize("name", MEMBER_PAGES + CONSOLE_PAGES)
def test_anonymous_is_sent_to_login(client: Client, name: str) -> None:
    url = reverse(name)
    response = client.get(url)
    assert response.status_code == 302
    assert (
        response["Location"].startswith(reverse("accounts:login"))
        and "next=" in response["Location"]
    )


@pytest.mark.parametrize("name", MEMBER_PAGES)
def test_member_sees_page_and_wrong_method_is_405(member_client: Client, name: str) -> None:
    url = reverse(name)
    assert member_client.get(url).status_code == 200
    assert member_client.delete(url).status_code == 405


@pytest.mark.parametrize("name", CONSOLE_PAGES)
def test_console_is_admin_only(
    admin_client: Client, outsider_client: Client, member_client: Client, name: str
) -> None:
    url = reverse(name)
    assert admin_client.get(url).status_code == 200
    assert admin_client.post(url).status_code == 405
    assert outsider_client.get(url).status_code == 403
    assert member_client.get(url).status_code == 403


def test_shell_navigation_in_both_languages(admin_client: Client) -> None:
    ru = admin_client.get(reverse("home")).content.decode()
    for word in ("Чат", "Поиск", "Сценарии", "Администрирование"):
        assert word in ru
    admin_client.post(reverse("set_language"), {"language": "en", "next": "/"})
    en = admin_client.get(reverse("home")).content.decode()
    for word in ("Chat", "Search", "Scenarios", "Admin"):
        assert word in en
    assert 'lang="en"' in en


def test_member_does_not_see_admin_link(member_client: Client) -> None:
    page = member_client.get(reverse("home")).content.decode()
    assert reverse("console:index") not in page


def test_audit_log_records_admin_pages_access(admin_client: Client, admin_user: User) -> None:
    from apps.accounts import audit

    audit.record(admin_user, "source_created", target="runbooks")
    page = admin_client.get(reverse("console:audit") + "?action=source_created").content.decode()
    assert "source_created" in page and "runbooks" in page


def test_healthz_needs_no_login(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_readyz_reports_ok_dependencies(client: Client) -> None:
    response = client.get("/readyz")
    checks = response.json()["checks"]
    assert checks["database"]["ok"] and checks["redis"]["ok"]


def test_readyz_reports_stopped_redis_quickly(admin_client: Client, settings: Any) -> None:
    # Port 9 (discard) is closed here: the check must fail fast, not hang the probe.
    settings.REDIS_URL = "redis://127.0.0.1:9/0"
    started = time.monotonic()
    response = admin_client.get("/readyz")  # an admin sees each check's detail
    assert time.monotonic() - started < 6
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "failing" and not body["checks"]["redis"]["ok"]
    assert "Connection" in body["checks"]["redis"]["detail"]


def test_metrics_exports_request_counters(client: Client) -> None:
    client.get("/healthz")
    text = client.get("/metrics").content.decode()
    assert 'opsdesk_http_requests_total{method="GET",route="healthz",status="200"}' in text


def test_russian_by_default_even_for_english_browsers(member_client: Client) -> None:
    page = member_client.get(reverse("home"), HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert 'lang="ru"' in page.content.decode() and "Чат" in page.content.decode()
