"""A run of a file from an indexed Git source: one click from a link, shared only with users who
may read that source, and continued in chat."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse

from apps.knowledge.models import Source
from apps.knowledge.tests.test_connectors import git
from apps.scenarios.models import Run

pytestmark = pytest.mark.django_db


@pytest.fixture
def colleague(db) -> Client:
    """Another engineer of the sre group: may read the Git source."""
    user = User.objects.create_user("colleague")
    user.groups.add(Group.objects.get_or_create(name="sre")[0])
    client = Client()
    client.force_login(user)
    return client


def review_link(source: Source, ref: str, path: str) -> str:
    return f"{reverse('scenarios:page', args=['proxy-config'])}?source={source.pk}&ref={ref}&path={path}"


def test_a_git_file_at_a_branch_is_one_click_from_a_link(
    member_client: Client, member: User, configs_repo: Path, configs_source: Source
) -> None:
    form = member_client.get(
        review_link(configs_source, "feature", "nginx/site.conf")
    ).content.decode()
    # The link opens the form on the Git tab, filled in: the click is "Analyze".
    assert re.search(r'value="git"[^>]*checked', form)
    assert f'<option value="{configs_source.pk}" selected>configs</option>' in form
    assert 'value="feature"' in form and 'value="nginx/site.conf"' in form
    data = {"mode": "git", "source": configs_source.pk, "ref": "feature", "path": "nginx/site.conf"}
    response = member_client.post(reverse("scenarios:page", args=["proxy-config"]), data)
    run = Run.objects.get(user=member)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert run.origin == "git" and run.input_commit == git(configs_repo, "rev-parse", "feature")
    assert run.input_text.endswith("# feature\n") and run.source_ids == [configs_source.pk]
    page = member_client.get(response["Location"]).content.decode()
    assert "configs: nginx/site.conf" in page and "@ feature" in page
    # A ref that is not a ref is refused by its field, nothing stored.
    bad = member_client.post(
        reverse("scenarios:page", args=["proxy-config"]), {**data, "ref": "main..feature"}
    )
    assert "main..feature" in bad.content.decode() and Run.objects.count() == 1
    files = member_client.get(reverse("scenarios:git_files"), {"source": configs_source.pk})
    assert '<option value="nginx/site.conf">' in files.content.decode()
    assert member_client.post(reverse("scenarios:git_files")).status_code == 405


def test_git_files_of_a_source_an_outsider_may_not_read_are_not_listed(
    outsider_client: Client, configs_source: Source
) -> None:
    response = outsider_client.get(reverse("scenarios:git_files"), {"source": configs_source.pk})
    assert response.status_code == 404
    form = outsider_client.get(
        review_link(configs_source, "main", "nginx/site.conf")
    ).content.decode()
    assert "configs" not in form


def test_a_share_link_opens_only_for_readers_of_every_source_the_run_used(
    member_client: Client,
    outsider_client: Client,
    colleague: Client,
    member: User,
    configs_source: Source,
) -> None:
    data = {"mode": "git", "source": configs_source.pk, "ref": "", "path": "nginx/site.conf"}
    member_client.post(reverse("scenarios:page", args=["proxy-config"]), data)
    run = Run.objects.get(user=member)
    share = reverse("scenarios:share", args=["proxy-config", run.pk])
    assert member_client.get(share).status_code == 405
    assert outsider_client.post(share).status_code == 404
    page = member_client.post(share, follow=True).content.decode()
    run.refresh_from_db()
    link = reverse("scenarios:shared", args=[run.share_token])
    assert run.share_token and link in page
    # The owner is taken to the run itself; a reader of the source sees it; others do not.
    assert member_client.get(link)["Location"] == reverse(
        "scenarios:run", args=["proxy-config", run.pk]
    )
    shared = colleague.get(link)
    assert shared.status_code == 200 and "nginx/site.conf" in shared.content.decode()
    assert "Удалить" not in shared.content.decode()  # not the colleague's run to delete
    denied = outsider_client.get(link)
    assert denied.status_code == 403 and "nginx/site.conf" not in denied.content.decode()
    assert "не можете читать" in denied.content.decode()
    assert colleague.post(link).status_code == 405
    assert colleague.get(reverse("scenarios:shared", args=["not-a-token"])).status_code == 404
    # Without the link, the run is still only its owner's.
    assert colleague.get(reverse("scenarios:run", args=["proxy-config", run.pk])).status_code == 404
    member_client.post(share, {"action": "stop"})
    assert colleague.get(link).status_code == 404


def test_continue_in_chat_opens_a_conversation_seeded_with_the_run(
    member_client: Client, colleague: Client, member: User, configs_source: Source
) -> None:
    data = {"mode": "git", "source": configs_source.pk, "ref": "", "path": "nginx/site.conf"}
    member_client.post(reverse("scenarios:page", args=["proxy-config"]), data)
    run = Run.objects.get(user=member)
    page = member_client.get(reverse("scenarios:run", args=["proxy-config", run.pk])).content
    seed = re.search(r'name="seed" value="([^"]+)"', page.decode())
    assert seed is not None and 'action="/chat/continue/"' in page.decode()
    response = member_client.post(reverse("chat:continue"), {"seed": unescape(seed.group(1))})
    assert response.status_code == 302 and response["Location"].startswith("/chat/")
    chat = member_client.get(response["Location"]).content.decode()
    first_rule = run.findings[0]["rule"]
    assert "configs: nginx/site.conf" in chat and first_rule in chat
    # The seed was made for the member: it opens nothing for someone else.
    other = colleague.post(reverse("chat:continue"), {"seed": unescape(seed.group(1))})
    assert other.status_code == 302 and other["Location"] == "/chat/"
