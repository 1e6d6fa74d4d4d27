"""Planner pages: open to every signed-in user, GET only, anonymous sent to sign in."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db

PAGES = ["capacity:planner", "capacity:seed"]


@pytest.mark.parametrize("name", PAGES)
def test_anonymous_is_sent_to_login(client: Client, name: str) -> None:
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


@pytest.mark.parametrize("name", PAGES)
def test_every_signed_in_user_sees_it_and_wrong_method_is_405(
    outsider_client: Client, name: str
) -> None:
    # The planner is for everyone who is signed in, not only admins or group members.
    assert outsider_client.get(reverse(name)).status_code == 200
    assert outsider_client.post(reverse(name)).status_code == 405
    assert outsider_client.delete(reverse(name)).status_code == 405


def test_first_visit_shows_a_plan_with_formulas(member_client: Client) -> None:
    page = member_client.get(reverse("capacity:planner")).content.decode()
    assert "2 × layers × kv_heads × head_dim × bytes" in page
    assert "2 × 32 × 8 × 128 × 2" in page  # Mistral-7B in the fast tier by default
    assert "Веса" in page  # Russian is the default language
    assert 'id="planner-chart-data"' in page
