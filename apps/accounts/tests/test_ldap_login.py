"""Sign-in against the real seeded OpenLDAP directory (deploy/dev/ldap/seed.ldif)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from apps.accounts.models import AuditEvent

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("ldap_server")]


def login(client: Client, username: str, password: str) -> Any:
    return client.post(reverse("accounts:login"), {"username": username, "password": password})


def test_directory_user_signs_in_and_groups_are_mirrored(client: Client) -> None:
    response = login(client, "alice", "secret-alice")
    assert response.status_code == 302 and response["Location"] == reverse("home")
    alice = User.objects.get(username="alice")
    assert set(alice.groups.values_list("name", flat=True)) == {"portal-admins", "sre"}
    assert alice.email == "alice@opsdesk.test" and alice.first_name == "Alice"
    assert AuditEvent.objects.filter(actor=alice, action="login").exists()


def test_member_of_admin_group_reaches_console(client: Client) -> None:
    login(client, "alice", "secret-alice")
    assert client.get(reverse("console:index")).status_code == 200
    page = client.get(reverse("console:users")).content.decode()
    assert "alice" in page and "portal-admins" in page


def test_plain_member_gets_403_in_console(client: Client) -> None:
    login(client, "boris", "secret-boris")
    assert client.get(reverse("home")).status_code == 200
    assert client.get(reverse("console:index")).status_code == 403
    boris = User.objects.get(username="boris")
    assert list(boris.groups.values_list("name", flat=True)) == ["sre"]
    assert not boris.is_staff


def test_groups_follow_the_directory_at_each_login(client: Client) -> None:
    login(client, "dina", "secret-dina")
    dina = User.objects.get(username="dina")
    # A group granted in the portal but not in the directory is dropped at the next sign-in.
    dina.groups.create(name="stale-local-group")
    client.logout()
    login(client, "dina", "secret-dina")
    assert list(dina.groups.values_list("name", flat=True)) == ["developers"]


def test_wrong_password_fails_with_clear_message(client: Client) -> None:
    response = login(client, "alice", "not-her-password")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Неверное имя пользователя или пароль" in body or "Wrong username or password" in body
    assert "_auth_user_id" not in client.session
    assert AuditEvent.objects.filter(action="login_failed", actor_name="alice").exists()


def test_lockout_after_configured_failures(client: Client, settings: Any) -> None:
    for _ in range(settings.AXES_FAILURE_LIMIT):
        login(client, "boris", "wrong")
    # Even the right password is refused while the lock holds.
    response = login(client, "boris", "secret-boris")
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session
    body = response.content.decode()
    assert "Too many failed sign-ins" in body or "Слишком много неудачных" in body
