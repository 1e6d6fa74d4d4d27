from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from apps.accounts.tokens import user_for_authorization_header

pytestmark = pytest.mark.django_db


def test_create_and_revoke_token(member_client: Client, member: User) -> None:
    page = member_client.post(reverse("accounts:profile"), {"name": "ide"}).content.decode()
    raw = page.split('<code class="secret">')[1].split("</code>")[0]
    assert raw.startswith("odk_")
    assert user_for_authorization_header(f"Bearer {raw}") == member
    token = member.api_tokens.get()
    assert raw not in (token.digest, token.prefix)  # only a hash is kept
    member_client.post(reverse("accounts:revoke_token", args=[token.pk]))
    assert user_for_authorization_header(f"Bearer {raw}") is None


def test_cannot_revoke_someone_elses_token(member: User, outsider_client: Client) -> None:
    from apps.accounts.tokens import create_token

    token, raw = create_token(member, "mine")
    outsider_client.post(reverse("accounts:revoke_token", args=[token.pk]))
    assert user_for_authorization_header(f"Bearer {raw}") == member


def test_revoke_needs_post(member_client: Client) -> None:
    assert member_client.get(reverse("accounts:revoke_token", args=[1])).status_code == 405
