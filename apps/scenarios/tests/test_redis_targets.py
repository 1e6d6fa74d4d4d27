"""Redis targets in the admin console: the password encrypted and never shown, the URL
checked, the portal's own Redis refused, the connection tested against a real redis-server,
and who may use which target."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse

from apps.accounts.models import AuditEvent
from apps.scenarios.engine import registry
from apps.scenarios.redis_advice import actions, collect
from apps.scenarios.redis_advice.models import RedisTarget
from apps.scenarios.tests.redis_servers import free_port, running

PASSWORD = "Vault-7-s3cret"


def _post(client: Client, page: str, **fields: Any) -> Any:
    data = {
        "name": "cache-prod",
        "enabled": "on",
        "max_keys": "5000",
        "scan_seconds": "1.5",
        **fields,
    }
    return client.post(page, data)


@pytest.mark.django_db
def test_pages_are_for_admins_only(
    admin_client: Client, member_client: Client, client: Client
) -> None:
    target = RedisTarget.objects.create(name="cache", url="redis://cache-1:6379/0")
    for url in (
        reverse("redis_targets:list"),
        reverse("redis_targets:new"),
        reverse("redis_targets:edit", args=[target.pk]),
    ):
        assert admin_client.get(url).status_code == 200
        assert member_client.get(url).status_code == 403
        assert client.get(url).status_code == 302  # to the login page
    assert admin_client.delete(reverse("redis_targets:list")).status_code == 405
    for url in (
        reverse("redis_targets:test", args=[target.pk]),
        reverse("redis_targets:delete", args=[target.pk]),
    ):
        assert admin_client.get(url).status_code == 405
        assert member_client.post(url).status_code == 403
    assert RedisTarget.objects.filter(pk=target.pk).exists()


@pytest.mark.django_db
def test_a_target_is_saved_with_its_password_encrypted_and_never_shown(
    admin_client: Client,
) -> None:
    sre = Group.objects.create(name="sre")
    response = _post(
        admin_client,
        reverse("redis_targets:new"),
        url="redis://ops@cache-1.prod:6380/2",
        password=PASSWORD,
        groups=[sre.pk],
    )
    assert response.status_code == 302
    target = RedisTarget.objects.get(name="cache-prod")
    assert target.url == "redis://ops@cache-1.prod:6380/2"
    assert PASSWORD not in target.password_encrypted and target.password() == PASSWORD
    assert target.group_names() == ["sre"] and target.max_keys == 5000
    page = admin_client.get(reverse("redis_targets:edit", args=[target.pk])).content.decode()
    assert (
        PASSWORD not in page and "A password is stored" in page or "пароль сохранён" in page.lower()
    )
    listing = admin_client.get(reverse("redis_targets:list")).content.decode()
    assert "cache-prod" in listing and PASSWORD not in listing
    event = AuditEvent.objects.get(action="redis_target_created")
    assert PASSWORD not in str(event.details) and event.details["password_changed"] is True
    # Saving again without a password keeps the stored one.
    _post(
        admin_client,
        reverse("redis_targets:edit", args=[target.pk]),
        url="redis://ops@cache-1.prod:6380/2",
    )
    target.refresh_from_db()
    assert target.password() == PASSWORD
    _post(
        admin_client,
        reverse("redis_targets:edit", args=[target.pk]),
        url="redis://cache-1.prod:6380/2",
        clear_password="on",
    )
    target.refresh_from_db()
    assert not target.has_password()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("unix:///var/run/redis/redis.sock", "unix sockets are not accepted"),
        ("redis:///var/lib/opsdesk/db.sqlite3", "no host"),
        ("redis://:pw@cache-1:6379/0", "Password field"),
        ("redis://cache-1:6379/0?ssl_cert_reqs=none", "options are not accepted"),
        ("redis://localhost:6379/3", "own Redis: its key names include session ids"),
    ],
)
def test_unusable_urls_are_refused_with_the_reason(
    admin_client: Client, settings: Any, url: str, error: str
) -> None:
    settings.REDIS_URL = "redis://127.0.0.1:6379/7"
    admin_client.cookies["django_language"] = "en"
    response = _post(admin_client, reverse("redis_targets:new"), url=url)
    assert response.status_code == 200
    assert error in response.content.decode()
    assert not RedisTarget.objects.exists()


@pytest.mark.django_db
def test_test_connection_reports_the_version_or_the_error(admin_client: Client) -> None:
    admin_client.cookies["django_language"] = "en"
    with running("--requirepass", PASSWORD) as server:
        _post(admin_client, reverse("redis_targets:new"), url=server.url, password=PASSWORD)
        target = RedisTarget.objects.get()
        response = admin_client.post(reverse("redis_targets:test", args=[target.pk]), follow=True)
        text = response.content.decode()
        assert "cache-prod answers: Redis 7." in text and "master" in text
        _post(
            admin_client,
            reverse("redis_targets:edit", args=[target.pk]),
            url=server.url,
            password="wrong",
        )
        response = admin_client.post(reverse("redis_targets:test", args=[target.pk]), follow=True)
        assert "cache-prod cannot be read" in response.content.decode()
    RedisTarget.objects.filter(pk=target.pk).update(url=f"redis://127.0.0.1:{free_port()}/0")
    response = admin_client.post(reverse("redis_targets:test", args=[target.pk]), follow=True)
    assert "cannot be read" in response.content.decode()


@pytest.mark.django_db
def test_delete_is_audited(admin_client: Client) -> None:
    target = RedisTarget.objects.create(name="old", url="redis://old:6379/0")
    assert admin_client.post(reverse("redis_targets:delete", args=[target.pk])).status_code == 302
    assert not RedisTarget.objects.exists()
    assert AuditEvent.objects.filter(action="redis_target_deleted", target="old").exists()


@pytest.mark.django_db
def test_who_may_use_which_target(admin_user: User, member: User, outsider: User) -> None:
    shared = RedisTarget.objects.create(name="shared", url="redis://a:6379/0")
    shared.allowed_groups.add(Group.objects.get(name="sre"))
    admins_only = RedisTarget.objects.create(name="admins", url="redis://b:6379/0")
    RedisTarget.objects.create(name="off", url="redis://c:6379/0", enabled=False)
    assert set(actions.usable_by(admin_user)) == {shared, admins_only}
    assert list(actions.usable_by(member)) == [shared]
    assert list(actions.usable_by(outsider)) == []


@pytest.mark.django_db
def test_a_stored_target_is_analysed_with_its_decrypted_password() -> None:
    with running("--requirepass", PASSWORD) as server:
        server.client().set("k", "v")
        target = actions.save_target(
            None,
            target=None,
            name="t",
            url=server.url,
            groups=[],
            enabled=True,
            max_keys=100,
            scan_seconds=1.0,
            password=PASSWORD,
        )
        snap = collect.snapshot(
            actions.connection(target), max_keys=target.max_keys, seconds=target.scan_seconds
        )
        analysis = registry.get("redis-advice").analyze(snap.to_json(), {})
    assert (
        analysis.facts["redis_version"].startswith("7.") and analysis.facts["target"] == server.url
    )
    assert PASSWORD not in snap.to_json()


@pytest.mark.django_db
def test_the_page_reads_a_target_the_user_may_use_and_stores_the_run(
    member_client: Client, outsider_client: Client, member: User
) -> None:
    from apps.scenarios.models import Run

    with running("--requirepass", PASSWORD) as server:
        server.client().set("k", "v")
        target = actions.save_target(
            None, target=None, name="cache-sre", url=server.url, groups=[Group.objects.get(name="sre")],
            enabled=True, max_keys=1000, scan_seconds=1.0, password=PASSWORD,
        )  # fmt: skip
        page = reverse("scenarios:page", args=["redis-advice"])
        assert "cache-sre" in member_client.get(page).content.decode()
        assert "cache-sre" not in outsider_client.get(page).content.decode()
        response = member_client.post(page, {"mode": "paste", "text": "", "target": target.pk})
        assert response.status_code == 302, response.content.decode()[:2000]
        run = Run.objects.get(user=member)
        assert run.origin == "system" and run.input_name == "cache-sre"
        assert (
            '"format": "opsdesk.redis-snapshot/1"' in run.input_text
            and PASSWORD not in run.input_text
        )
        # Someone outside the target's groups cannot have it read, whatever they post.
        response = outsider_client.post(page, {"mode": "paste", "text": "", "target": target.pk})
        assert response.status_code == 200 and not Run.objects.exclude(user=member).exists()
