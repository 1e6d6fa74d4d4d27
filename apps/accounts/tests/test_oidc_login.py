"""Single sign-on against a real OpenID Connect provider (node-oidc-provider, OpenID
Certified) started on a loopback port: sign-in, groups, admin rights, logout, and the
failures a person must be able to act on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.test import Client

from apps.accounts.models import AuditEvent, OIDCIdentity
from apps.accounts.oidc import client as oidc_client
from apps.accounts.tests.oidc_provider import (
    CLIENT_ID,
    CLIENT_SECRET,
    Browser,
    Provider,
    TamperingProxy,
    flip_signature,
    install,
)
from common.testing import free_port

pytestmark = pytest.mark.django_db

USERS: dict[str, dict[str, Any]] = {
    "alice": {
        "password": "alice-idp-pass",
        "email": "alice@opsdesk.test",
        "name": "Alice Ivanova",
        "groups": ["sre", "portal-admins"],
    },
    "boris": {
        "password": "boris-idp-pass",
        "email": "boris@opsdesk.test",
        "name": "Boris Petrov",
        "groups": ["developers"],
    },
}


def configure(settings: Any, issuer: str) -> None:
    settings.OIDC_ISSUER = issuer
    settings.OIDC_CLIENT_ID = CLIENT_ID
    settings.OIDC_CLIENT_SECRET = CLIENT_SECRET
    settings.OIDC_SCOPES = ["openid", "email", "profile", "groups"]
    settings.OIDC_ADMIN_GROUPS = ["portal-admins"]
    settings.OIDC_PROVIDER_NAME = "Dex"
    # Discovery and keys are cached per issuer; each provider process has fresh keys.
    cache.delete_many([oidc_client._cache_key("discovery"), oidc_client._cache_key("jwks")])


def english() -> Client:
    """A browser whose language switcher is set to English."""
    client = Client()
    client.cookies["django_language"] = "en"
    return client


def start_provider(tmp: Path, **kwargs: Any) -> Provider:
    install()
    provider = Provider(tmp, **kwargs).start()
    provider.set_users(USERS)
    return provider


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Provider]:
    provider = start_provider(tmp_path_factory.mktemp("oidc"))
    yield provider
    provider.stop()


@pytest.fixture
def idp(provider: Provider, settings: Any) -> Provider:
    provider.set_users(USERS)
    configure(settings, provider.issuer)
    return provider


@pytest.fixture
def browser(idp: Provider) -> Browser:
    return Browser(Client(), idp.issuer)


def signed_in_user(browser: Browser) -> User | None:
    user_id = browser.portal.session.get("_auth_user_id")
    return User.objects.get(pk=user_id) if user_id else None


def test_login_page_offers_the_provider_button(browser: Browser) -> None:
    page = browser.portal.get("/accounts/login/?next=/search/").content.decode()
    assert "Войти через Dex" in page
    assert 'href="/accounts/oidc/login/?next=/search/"' in page
    assert "Sign in with Dex" in english().get("/accounts/login/").content.decode()


def test_sign_in_creates_the_user_with_mirrored_groups_and_admin_rights(browser: Browser) -> None:
    page = browser.sign_in("alice", "alice-idp-pass")
    assert page.status_code == 200 and browser.last_url == "/"
    alice = signed_in_user(browser)
    assert alice is not None and alice.username == "alice"
    assert set(alice.groups.values_list("name", flat=True)) == {"sre", "portal-admins"}
    assert alice.email == "alice@opsdesk.test" and alice.first_name == "Alice"
    assert alice.is_staff and not alice.has_usable_password()
    assert browser.portal.get("/admin-console/").status_code == 200
    event = AuditEvent.objects.get(actor=alice, action="login")
    assert event.details["backend"] == "OIDCBackend"


def test_member_without_admin_group_is_refused_the_console(browser: Browser) -> None:
    browser.sign_in("boris", "boris-idp-pass")
    boris = signed_in_user(browser)
    assert boris is not None and not boris.is_staff
    assert list(boris.groups.values_list("name", flat=True)) == ["developers"]
    assert browser.portal.get("/").status_code == 200
    assert browser.portal.get("/admin-console/").status_code == 403


def test_group_removed_at_the_provider_is_lost_at_next_sign_in(
    browser: Browser, idp: Provider
) -> None:
    browser.sign_in("alice", "alice-idp-pass")
    assert browser.portal.get("/admin-console/").status_code == 200
    browser.follow("POST", "/accounts/logout/")
    page = browser.form(browser.follow("GET", browser.last_url), {"logout": "yes"})
    idp.set_users({**USERS, "alice": {**USERS["alice"], "groups": ["sre"]}})
    browser.sign_in("alice", "alice-idp-pass")
    alice = signed_in_user(browser)
    assert alice is not None and page is not None
    assert list(alice.groups.values_list("name", flat=True)) == ["sre"]
    assert not alice.is_staff
    assert browser.portal.get("/admin-console/").status_code == 403


def test_logout_ends_the_provider_session_too(browser: Browser) -> None:
    browser.sign_in("alice", "alice-idp-pass")
    confirm = browser.follow("POST", "/accounts/logout/")
    assert browser.last_url.startswith(f"{browser.provider_base}/session/end")
    assert "id_token_hint=" in browser.last_url
    assert signed_in_user(browser) is None
    back = browser.form(confirm, {"logout": "yes"})
    assert browser.last_url == "/accounts/login/" and back.status_code == 200
    # The provider forgot the person: signing in again asks for the password.
    browser.follow("GET", "/accounts/oidc/login/")
    assert "/interaction/" in browser.last_url


def test_a_replayed_answer_is_refused(browser: Browser) -> None:
    browser.sign_in("alice", "alice-idp-pass")
    callback = next(u for u in browser.history if u.startswith("/accounts/oidc/callback/"))
    # The same answer again, in the same browser and in another one.
    again = browser.portal.get(callback)
    assert again.status_code == 400
    assert "уже использован" in again.content.decode()
    stranger = english().get(callback)
    assert stranger.status_code == 400 and "already used" in stranger.content.decode()
    assert stranger.wsgi_request.user.is_anonymous


def test_an_answer_for_another_nonce_is_refused(browser: Browser) -> None:
    page = browser.follow("GET", "/accounts/oidc/login/")
    session = browser.portal.session
    flows = session["oidc_flows"]
    for flow in flows.values():
        flow["nonce"] = "not-the-nonce-the-provider-got"
    session["oidc_flows"] = flows
    session.save()
    answer = browser.form(page, {"login": "alice", "password": "alice-idp-pass"})
    assert answer.status_code == 400 and signed_in_user(browser) is None
    assert AuditEvent.objects.filter(action="login_failed", details__reason="state").exists()


def test_wrong_client_secret_is_named(browser: Browser, settings: Any) -> None:
    settings.OIDC_CLIENT_SECRET = "not-the-registered-secret"
    answer = browser.sign_in("alice", "alice-idp-pass")
    assert answer.status_code == 502 and signed_in_user(browser) is None
    assert "OIDC_CLIENT_SECRET" in answer.content.decode()
    event = AuditEvent.objects.get(action="login_failed", details__reason="client_rejected")
    assert "invalid_client" in event.details["detail"]


def test_provider_down_is_said_plainly(settings: Any) -> None:
    configure(settings, f"http://127.0.0.1:{free_port()}")
    answer = english().get("/accounts/oidc/login/")
    assert answer.status_code == 502
    body = answer.content.decode()
    assert "cannot be reached right now" in body and "sign in with your password" in body


def test_local_account_with_the_same_email_is_not_taken_over(browser: Browser) -> None:
    local = User.objects.create_user("a.ivanova", "alice@opsdesk.test", "local-pass-123")
    answer = browser.sign_in("alice", "alice-idp-pass")
    assert answer.status_code == 403 and signed_in_user(browser) is None
    assert (
        "Link single sign-on" in answer.content.decode() or "Привязать" in answer.content.decode()
    )
    assert not OIDCIdentity.objects.exists() and not local.groups.exists()
    refused = AuditEvent.objects.get(action="login_failed", details__reason="account_exists")
    assert refused.details["sub"] == "alice" and refused.actor_name == "alice"
    # Its owner links it after signing in with the password; from then on sign-on opens it.
    browser.portal.post("/accounts/login/", {"username": "a.ivanova", "password": "local-pass-123"})
    assert signed_in_user(browser) == local
    profile = browser.follow("POST", "/accounts/oidc/link/")
    profile = browser.form(profile, {"login": "alice", "password": "alice-idp-pass"})
    assert browser.last_url == "/accounts/profile/" and profile.status_code == 200
    assert OIDCIdentity.objects.get().user == local
    browser.portal.logout()
    browser.follow("GET", "/accounts/oidc/login/")
    assert signed_in_user(browser) == local
    assert set(local.groups.values_list("name", flat=True)) == {"sre", "portal-admins"}


def test_next_page_is_kept_and_foreign_targets_dropped(browser: Browser) -> None:
    browser.sign_in("boris", "boris-idp-pass", start="/accounts/oidc/login/?next=/search/")
    assert browser.last_url == "/search/"
    browser.portal.logout()
    browser.follow("GET", "/accounts/oidc/login/?next=https://evil.example/")
    assert browser.last_url == "/"


def test_sign_on_pages_are_absent_when_not_configured(settings: Any) -> None:
    settings.OIDC_ISSUER = ""
    client = Client()
    assert client.get("/accounts/oidc/login/").status_code == 404
    assert "oidc-login" not in client.get("/accounts/login/").content.decode()
    assert client.post("/accounts/oidc/login/").status_code in (404, 405)


def test_tampered_id_token_signature_is_refused(tmp_path: Path, settings: Any) -> None:
    proxy_port = free_port()
    provider = start_provider(tmp_path, issuer=f"http://127.0.0.1:{proxy_port}")
    proxy = TamperingProxy(provider.port, proxy_port)
    try:
        configure(settings, provider.issuer)
        proxy.alter = flip_signature
        browser = Browser(Client(), provider.issuer)
        answer = browser.sign_in("alice", "alice-idp-pass")
        assert answer.status_code == 502 and signed_in_user(browser) is None
        event = AuditEvent.objects.get(action="login_failed", details__reason="token_invalid")
        assert "signature" in event.details["detail"]
        assert not User.objects.filter(username="alice").exists()
        # The same path without tampering signs in: the refusal was the signature's.
        proxy.alter = None
        browser.sign_in("alice", "alice-idp-pass")
        assert signed_in_user(browser) is not None
    finally:
        proxy.stop()
        provider.stop()


def test_provider_clock_ten_minutes_ahead_is_named(tmp_path: Path, settings: Any) -> None:
    provider = start_provider(tmp_path, clock_skew=600)
    try:
        configure(settings, provider.issuer)
        browser = Browser(english(), provider.issuer)
        answer = browser.sign_in("alice", "alice-idp-pass")
        body = answer.content.decode()
        assert answer.status_code == 502 and signed_in_user(browser) is None
        assert "differ by about 600 seconds" in body and "NTP" in body
    finally:
        provider.stop()


def test_an_admin_links_an_account_from_the_command_line(browser: Browser) -> None:
    from django.core.management import call_command

    local = User.objects.create_user("boris.p", "boris@opsdesk.test", "local-pass-123")
    assert browser.sign_in("boris", "boris-idp-pass").status_code == 403
    call_command("oidc_link", "boris.p", "boris")
    browser.follow("GET", "/accounts/oidc/login/")
    assert signed_in_user(browser) == local
    assert list(local.groups.values_list("name", flat=True)) == ["developers"]
