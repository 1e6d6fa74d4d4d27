"""Lockouts are in the audit log, listed in the console and lifted by an admin (audited)."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from apps.accounts.models import AuditEvent

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
HOSTILE_NAME = '<script>alert("x")</script>'


def _fail(client: Client, username: str, times: int, ip: str = "127.0.0.1") -> list[int]:
    return [
        client.post(LOGIN, {"username": username, "password": "wrong"}, REMOTE_ADDR=ip).status_code
        for _ in range(times)
    ]


@pytest.fixture
def victim(db: None) -> User:
    return User.objects.create_user("victim", password="victim-pass-123")


def test_a_lockout_is_written_to_the_audit_log(victim: User) -> None:
    statuses = _fail(Client(), "victim", settings.AXES_FAILURE_LIMIT + 1)
    assert statuses[-2:] == [429, 429]
    events = AuditEvent.objects.filter(action="login_locked_out", actor_name="victim")
    assert events.count() == 2  # the failure that locked, and the attempt refused after
    assert {e.ip for e in events} == {"127.0.0.1"} and events[0].details == {"ip": "127.0.0.1"}


def test_console_lists_lockouts_and_an_admin_lifts_one(
    victim: User, admin_client: Client, member_client: Client, client: Client
) -> None:
    limit = settings.AXES_FAILURE_LIMIT
    _fail(Client(), "victim", limit, ip="198.51.100.7")
    _fail(Client(), "victim", limit, ip="198.51.100.8")
    _fail(Client(), HOSTILE_NAME, limit, ip="198.51.100.9")
    page = admin_client.get(reverse("console:lockouts"))
    html = page.content.decode()
    assert page.status_code == 200
    assert html.count('name="ip" value="198.51.100.') == 3
    assert HOSTILE_NAME not in html and "&lt;script&gt;" in html  # shown, never run
    url = reverse("console:lockout_remove")
    response = admin_client.post(url, {"username": "victim", "ip": "198.51.100.7"})
    assert response.status_code == 302
    # Exactly that user name at that address: the other two stay locked.
    html = admin_client.get(reverse("console:lockouts")).content.decode()
    listed = [ip for ip in ("7", "8", "9") if f'name="ip" value="198.51.100.{ip}"' in html]
    assert listed == ["8", "9"]
    event = AuditEvent.objects.get(action="lockout_removed")
    assert event.actor_name == "admin" and event.target == "victim"
    assert event.details == {"ip": "198.51.100.7"}
    ok = Client().post(
        LOGIN, {"username": "victim", "password": "victim-pass-123"}, REMOTE_ADDR="198.51.100.7"
    )
    assert ok.status_code == 302
    still = Client().post(
        LOGIN, {"username": "victim", "password": "victim-pass-123"}, REMOTE_ADDR="198.51.100.8"
    )
    assert still.status_code == 429


def test_lockout_pages_admin_only_and_post_only(
    victim: User, admin_client: Client, member_client: Client, client: Client
) -> None:
    _fail(Client(), "victim", settings.AXES_FAILURE_LIMIT, ip="198.51.100.7")
    page, remove = reverse("console:lockouts"), reverse("console:lockout_remove")
    assert admin_client.post(page).status_code == 405
    assert admin_client.get(remove).status_code == 405
    assert member_client.get(page).status_code == 403
    assert (
        member_client.post(remove, {"username": "victim", "ip": "198.51.100.7"}).status_code == 403
    )
    assert client.get(page).status_code == 302  # to the login page
    assert client.post(remove, {"username": "victim", "ip": "198.51.100.7"}).status_code == 302
    assert not AuditEvent.objects.filter(action="lockout_removed").exists()
    assert 'name="ip" value="198.51.100.7"' in admin_client.get(page).content.decode()


@pytest.mark.parametrize(
    "data",
    [
        {"username": "victim", "ip": "../../etc/passwd"},
        {"username": "victim", "ip": "198.51.100.7; DROP TABLE axes_accessattempt"},
        {"username": "victim"},
        {"username": "v" * 300, "ip": "198.51.100.7"},
        {"username": "victim", "ip": "198.51.100.70"},
        {"username": "VICTIM", "ip": "198.51.100.7"},
    ],
)
def test_hostile_or_wrong_removals_remove_nothing(
    victim: User, admin_client: Client, data: dict[str, str]
) -> None:
    _fail(Client(), "victim", settings.AXES_FAILURE_LIMIT, ip="198.51.100.7")
    response = admin_client.post(reverse("console:lockout_remove"), data, follow=True)
    assert response.status_code == 200
    html = admin_client.get(reverse("console:lockouts")).content.decode()
    assert 'name="ip" value="198.51.100.7"' in html
    assert not AuditEvent.objects.filter(action="lockout_removed").exists()
