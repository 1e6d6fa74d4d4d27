"""A paste over the request size limit into any scenario page: the page with its form and an
error naming the limits, not Django's bare 400; nothing stored, nothing run. The client
enforces CSRF as a browser does, since the CSRF check is what reads the body first."""

from __future__ import annotations

import time

import pytest
from django.test import Client
from django.urls import resolve, reverse

from apps.scenarios.engine import registry
from apps.scenarios.models import Run

pytestmark = pytest.mark.django_db

BIG = "x" * (20 * 1024 * 1024)


def _pasted_into() -> list[str]:
    """Every scenario whose page is the engine's form (alert triage's page lists the alerts
    its webhook received and has no text box)."""
    return sorted(
        slug
        for slug in registry.available()
        if resolve(reverse("scenarios:page", args=[slug])).view_name == "scenarios:page"
    )


@pytest.fixture
def browser_like(member) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(member)
    return client


def _post_big(client: Client, slug: str) -> tuple[int, str]:
    url = reverse("scenarios:page", args=[slug])
    client.get(url)  # sets the CSRF cookie, as the page's form does
    token = client.cookies["csrftoken"].value
    response = client.post(url, {"csrfmiddlewaretoken": token, "mode": "paste", "text": BIG})
    return response.status_code, response.content.decode()


@pytest.mark.parametrize("slug", _pasted_into())
def test_a_twenty_megabyte_paste_gets_the_form_and_the_limit(
    browser_like: Client, slug: str
) -> None:
    started = time.monotonic()
    status, page = _post_big(browser_like, slug)
    assert status == 400
    assert 'id="scenario-form"' in page and 'id="input-error"' in page
    assert "больше 10 МБ" in page and "не больше 2 МБ" in page
    assert not Run.objects.exists()
    assert time.monotonic() - started < 20


def test_the_limit_is_said_in_english_too(browser_like: Client) -> None:
    browser_like.cookies["django_language"] = "en"
    status, page = _post_big(browser_like, "ansible")
    assert status == 400 and "more than 10 MB" in page and "at most 2 MB of input" in page


def test_a_signed_out_big_post_is_not_shown_a_page(client: Client) -> None:
    url = reverse("scenarios:page", args=["ansible"])
    response = client.post(url, {"mode": "paste", "text": BIG})
    assert response.status_code in (302, 400, 403)
    assert 'id="scenario-form"' not in response.content.decode()


def test_a_normal_post_still_needs_its_csrf_token(browser_like: Client) -> None:
    url = reverse("scenarios:page", args=["ansible"])
    browser_like.get(url)
    response = browser_like.post(url, {"mode": "paste", "text": "- hosts: web\n"})
    assert response.status_code == 403 and not Run.objects.exists()
