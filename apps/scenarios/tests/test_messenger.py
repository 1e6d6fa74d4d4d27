"""The onboarding assistant in Slack and Mattermost: requests verified (Slack's v0 signature
and replay window, Mattermost's tokens), unlinked users get a one-time link and no answer,
linked users get the answer in a thread with numbered links back to the portal, with their
own permissions; a dead model, a hostile or huge payload each get a clean answer.

The Slack Web API and the Mattermost API v4 are a local HTTP server started by the test on a
loopback port that speaks their documented formats (messenger_servers.py), said so in the
test names; the model is the real dev vLLM server, the index a real embedded Qdrant.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.utils import translation

from apps.accounts import messenger as links
from apps.accounts.models import MessengerIdentity, MessengerLinkCode
from apps.scenarios.messenger import mattermost, slack, tasks, verify
from apps.scenarios.models import Run
from apps.scenarios.tests.messenger_servers import (  # noqa: F401  (fixture)
    DIRECT_CHANNELS,
    MATTERMOST_BOT_TOKEN,
    NOT_IN_CHANNEL,
    SLACK_BOT_TOKEN,
    Messenger,
    messenger_server,
)
from apps.scenarios.tests.onboarding_fixtures import TeamKB

pytestmark = pytest.mark.django_db(transaction=True)

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"  # noqa: S105 (Slack's documented example)
COMMAND_TOKEN = "xr3j5x3p4pfk7kc1qgzzppyq6e"  # noqa: S105
WEBHOOK_TOKEN = "9ncfzkq7rbgm5y1xnjzjwmzt5w"  # noqa: S105
TEAM, SLACK_USER, CHANNEL = "T0TEAM0001", "U0NINA0001", "C0GENERAL1"
MM_USER, MM_CHANNEL = "nina0000000000000000000000", "town0000000000000000000000"
QUESTION = "How do I request read access to the Kubernetes cluster?"
SECRET_DOC = """\
# Cluster break-glass

## Emergency read access to the Kubernetes cluster

Read access to the Kubernetes cluster in an emergency: the secops vault account kube-root-7731,
requested from the security duty officer. Never share it.
"""


@pytest.fixture
def _english() -> Iterator[None]:
    with translation.override("en"):
        yield


@pytest.fixture
def configured(settings: Any, messenger_server: Messenger) -> Iterator[Messenger]:  # noqa: F811
    settings.SLACK_SIGNING_SECRET = SIGNING_SECRET
    settings.SLACK_BOT_TOKEN = SLACK_BOT_TOKEN
    settings.SLACK_API_URL = f"{messenger_server.base}/api"
    settings.SLACK_RESPONSE_URL_PREFIXES = [f"{messenger_server.base}/commands/"]
    settings.MATTERMOST_URL = messenger_server.base
    settings.MATTERMOST_BOT_TOKEN = MATTERMOST_BOT_TOKEN
    settings.MATTERMOST_COMMAND_TOKEN = COMMAND_TOKEN
    settings.MATTERMOST_WEBHOOK_TOKEN = WEBHOOK_TOKEN
    settings.MESSENGER_LANGUAGE = "en"
    settings.PORTAL_URL = "https://opsdesk.example.com"
    yield messenger_server
    assert tasks.wait_idle(120), "messenger jobs still running"


def _user(name: str, *groups: str) -> User:
    user = User.objects.create_user(name, password=f"{name}-pass-123")
    for g in groups:
        user.groups.add(Group.objects.get_or_create(name=g)[0])
    return user


def _link(user: User, kind: str, external_id: str, team: str = "") -> MessengerIdentity:
    code = links.offer_link(kind, team, external_id, external_id)
    return links.claim(user, code)


def _slack_form(text: str, **extra: str) -> bytes:
    fields = {
        "token": "gIkuvaNzQIHg97ATvDxqgjtO",
        "team_id": TEAM,
        "team_domain": "example",
        "channel_id": CHANNEL,
        "channel_name": "general",
        "user_id": SLACK_USER,
        "user_name": "nina",
        "command": "/onboarding",
        "text": text,
        "api_app_id": "A123456",
        "trigger_id": "13345224609.738474920.8088930838d88f008e0",
        "response_url": "",
    }
    fields.update(extra)
    return urlencode(fields).encode()


def _slack_post(
    client: Client,
    path: str,
    body: bytes,
    *,
    content_type: str = "application/x-www-form-urlencoded",
    secret: str = SIGNING_SECRET,
    at: float | None = None,
    retry: str = "",
) -> Any:
    ts = str(int(time.time() if at is None else at))
    headers = {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": verify.slack_signature(secret, ts, body),
    }
    if retry:
        headers["X-Slack-Retry-Num"] = retry
    return client.post(path, data=body, content_type=content_type, headers=headers)


def _mm_post(path: str, fields: dict[str, str]) -> Any:
    """As Mattermost posts slash commands and outgoing webhooks: a URL-encoded form."""
    return Client().post(
        f"/hooks/messenger/mattermost/{path}/",
        data=urlencode(fields),
        content_type="application/x-www-form-urlencoded",
    )


def _command(client: Client, messenger: Messenger, text: str, **extra: str) -> Any:
    body = _slack_form(text, response_url=f"{messenger.base}/commands/{TEAM}/1/x", **extra)
    return _slack_post(client, "/hooks/messenger/slack/commands/", body)


# --- verification -----------------------------------------------------------------------------


def test_slack_signature_matches_the_example_in_slacks_documentation() -> None:
    body = (
        b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id="
        b"G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook"
        b"-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F3977"
        b"00885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d"
        b"10d2c447fce8b6703c"
    )
    documented = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
    assert verify.slack(SIGNING_SECRET, "1531420618", body, documented, now=1531420618) == ""
    assert (
        verify.slack(SIGNING_SECRET, "1531420618", body + b"x", documented, 1531420618) == "forged"
    )
    assert verify.slack(SIGNING_SECRET, "1531420618", body, documented, 1531420618 + 301) == "stale"
    assert verify.slack(SIGNING_SECRET, "soon", body, documented, 1531420618) == "stale"
    assert verify.slack("", "1531420618", body, documented, 1531420618) == "unsigned"


def test_slack_forged_signature_is_refused_and_nothing_is_posted_against_a_local_server_speaking_slack_web_api(
    configured: Messenger, member: User
) -> None:
    _link(member, "slack", SLACK_USER, TEAM)
    client = Client()
    body = _slack_form(QUESTION, response_url=f"{configured.base}/commands/{TEAM}/1/x")
    wrong_secret = _slack_post(
        client, "/hooks/messenger/slack/commands/", body, secret="not-the-signing-secret"
    )
    assert wrong_secret.status_code == 401 and "forged" in wrong_secret.json()["error"]
    ts = str(int(time.time()))
    tampered = client.post(
        "/hooks/messenger/slack/commands/",
        data=body.replace(b"nina", b"boss"),
        content_type="application/x-www-form-urlencoded",
        HTTP_X_SLACK_REQUEST_TIMESTAMP=ts,
        HTTP_X_SLACK_SIGNATURE=verify.slack_signature(SIGNING_SECRET, ts, body),
    )
    assert tampered.status_code == 401
    unsigned = client.post(
        "/hooks/messenger/slack/events/",
        data=b'{"type":"url_verification","challenge":"x"}',
        content_type="application/json",
    )
    assert unsigned.status_code == 401
    assert tasks.wait_idle(30)
    assert configured.requests == [] and not Run.objects.exists()


def test_slack_replayed_request_older_than_five_minutes_is_refused_against_a_local_server_speaking_slack_web_api(
    configured: Messenger, member: User
) -> None:
    _link(member, "slack", SLACK_USER, TEAM)
    body = _slack_form(QUESTION, response_url=f"{configured.base}/commands/{TEAM}/1/x")
    old = _slack_post(Client(), "/hooks/messenger/slack/commands/", body, at=time.time() - 301)
    assert old.status_code == 401 and "stale" in old.json()["error"]
    future = _slack_post(Client(), "/hooks/messenger/slack/commands/", body, at=time.time() + 400)
    assert future.status_code == 401
    assert configured.requests == [] and not Run.objects.exists()


def test_mattermost_wrong_or_missing_token_is_refused_against_a_local_server_speaking_mattermost_api_v4(
    configured: Messenger, member: User
) -> None:
    _link(member, "mattermost", MM_USER)
    form = {"user_id": MM_USER, "channel_id": MM_CHANNEL, "text": QUESTION}
    for token in ("", "guessed-token", WEBHOOK_TOKEN):  # the webhook's token is not the command's
        response = _mm_post("command", {**form, "token": token})
        assert response.status_code == 401, token
    hook = {**form, "post_id": "p" * 26, "token": COMMAND_TOKEN}
    assert _mm_post("webhook", hook).status_code == 401
    assert _mm_post("webhook", {**hook, "token": WEBHOOK_TOKEN + "x"}).status_code == 401
    assert Client().get("/hooks/messenger/mattermost/command/").status_code == 405
    assert configured.requests == [] and not Run.objects.exists()


def test_slack_huge_or_malformed_payload_gets_a_clean_400(configured: Messenger) -> None:
    client = Client()
    huge = _slack_form("x" * 70_000)
    response = _slack_post(client, "/hooks/messenger/slack/commands/", huge)
    assert response.status_code == 400 and "over" in response.json()["error"]
    for body, content_type, field in (
        (b"\xff\xfe=\x00", "application/x-www-form-urlencoded", "form"),
        (b"team_id=T1&&&=", "application/x-www-form-urlencoded", "form"),
        (
            urlencode({"user_id": SLACK_USER, "channel_id": CHANNEL}).encode(),
            "application/x-www-form-urlencoded",
            "team_id",
        ),
    ):
        response = _slack_post(
            client, "/hooks/messenger/slack/commands/", body, content_type=content_type
        )
        assert response.status_code == 400, body
        assert field in response.json()["error"]
    for body, field in (
        (b"{not json", "JSON"),
        (b'["event_callback"]', "object"),
        (b'{"type": "event_callback", "team_id": "T", "event": "text"}', "event"),
        (b'{"type": "event_callback", "team_id": "T", "event": {"type": "app_mention", '
         b'"user": "U1", "channel": "C1", "ts": "1.2", "text": ["a"]}}', "text"),
        (b'{"type": ["url_verification"]}', "type"),
    ):  # fmt: skip
        response = _slack_post(
            client, "/hooks/messenger/slack/events/", body, content_type="application/json"
        )
        assert response.status_code == 400, body
        assert field in response.json()["error"]
    mm = client.post(
        "/hooks/messenger/mattermost/webhook/", data=b"{", content_type="application/json"
    )
    assert mm.status_code == 400
    huge_mm = _mm_post("command", {"token": COMMAND_TOKEN, "text": "x" * 70_000})
    assert huge_mm.status_code == 400 and "over" in huge_mm.json()["error"]
    missing = _mm_post("webhook", {"token": WEBHOOK_TOKEN, "user_id": MM_USER, "channel_id": "c"})
    assert missing.status_code == 400 and "post_id" in missing.json()["error"]
    multipart = client.post("/hooks/messenger/mattermost/command/", {"token": COMMAND_TOKEN})
    assert multipart.status_code == 400 and "Content-Type" in multipart.json()["error"]
    assert configured.requests == []


def test_slack_url_verification_and_events_that_are_not_questions(configured: Messenger) -> None:
    client = Client()
    challenge = b'{"token": "x", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", "type": "url_verification"}'
    response = _slack_post(
        client, "/hooks/messenger/slack/events/", challenge, content_type="application/json"
    )
    assert response.json() == {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}
    own_post = (
        b'{"type": "event_callback", "team_id": "T0TEAM0001", "event": {"type": "message", '
        b'"channel_type": "im", "bot_id": "B0BOT", "user": "U0BOT", "channel": "D1", '
        b'"ts": "1.2", "text": "an answer"}}'
    )
    for retry in ("", "1"):
        response = _slack_post(
            client,
            "/hooks/messenger/slack/events/",
            own_post,
            content_type="application/json",
            retry=retry,
        )
        assert response.status_code == 200
    assert tasks.wait_idle(30) and configured.requests == []


def test_messengers_not_configured_answer_404(settings: Any) -> None:
    settings.SLACK_SIGNING_SECRET = ""
    settings.MATTERMOST_URL = ""
    client = Client()
    assert client.post("/hooks/messenger/slack/commands/", {}).status_code == 404
    assert _mm_post("command", {"token": COMMAND_TOKEN}).status_code == 404


# --- linking ----------------------------------------------------------------------------------


def test_slack_unlinked_user_gets_a_one_time_link_and_no_answer_against_a_local_server_speaking_slack_web_api(
    configured: Messenger, member: User, outsider: User, _english: None
) -> None:
    response = _command(Client(), configured, QUESTION)
    assert response.status_code == 200
    reply = response.json()
    assert reply["response_type"] == "ephemeral" and "link your Slack account" in reply["text"]
    url = re.search(
        r"https://opsdesk\.example\.com(/accounts/messenger/link/[\w-]+/)", reply["text"]
    )
    assert url, reply["text"]
    assert tasks.wait_idle(30)
    assert configured.requests == [] and not Run.objects.exists()
    # Signed out, the link goes through the sign-in page first.
    assert Client().get(url.group(1)).status_code == 302
    browser = Client()
    browser.cookies["django_language"] = "en"
    browser.force_login(member)
    page = browser.get(url.group(1))
    assert page.status_code == 200 and "nina" in page.content.decode()
    assert not MessengerIdentity.objects.exists()  # opening it links nothing
    assert browser.post(url.group(1)).status_code == 302
    identity = MessengerIdentity.objects.get()
    assert (identity.user, identity.kind, identity.team, identity.external_id) == (
        member,
        "slack",
        TEAM,
        SLACK_USER,
    )
    # Once only: used, it links nobody else.
    other = Client()
    other.force_login(outsider)
    again = other.post(url.group(1), HTTP_ACCEPT_LANGUAGE="en")
    assert again.status_code == 400 and MessengerIdentity.objects.get().user == member
    profile = browser.get("/accounts/profile/").content.decode()
    assert 'id="messenger-accounts"' in profile and "nina" in profile
    # Unlinked from the profile: the next question gets a link again, not an answer.
    assert other.post(f"/accounts/messenger/{identity.pk}/unlink/").status_code == 302
    assert MessengerIdentity.objects.exists()  # not the outsider's to unlink
    browser.post(f"/accounts/messenger/{identity.pk}/unlink/")
    assert not MessengerIdentity.objects.exists()
    assert "link your Slack account" in _command(Client(), configured, QUESTION).json()["text"]


def test_a_link_expires_and_only_the_newest_works(member: User, settings: Any) -> None:
    first = links.offer_link("slack", TEAM, SLACK_USER, "nina")
    second = links.offer_link("slack", TEAM, SLACK_USER, "nina")
    with pytest.raises(links.LinkError):
        links.claim(member, first)
    MessengerLinkCode.objects.update(expires=MessengerLinkCode.objects.get().created)
    with pytest.raises(links.LinkError):
        links.claim(member, second)
    with pytest.raises(links.LinkError):
        links.pending("x" * 500)
    assert not MessengerIdentity.objects.exists()


def test_a_messenger_account_links_to_one_portal_account(member: User, outsider: User) -> None:
    _link(member, "mattermost", MM_USER)
    code = links.offer_link("mattermost", "", MM_USER, "nina")
    with pytest.raises(links.LinkError):
        links.claim(outsider, code)
    assert MessengerIdentity.objects.get().user == member


def test_the_link_offer_is_in_russian_by_default(configured: Messenger, settings: Any) -> None:
    settings.MESSENGER_LANGUAGE = "ru"
    reply = _command(Client(), configured, QUESTION).json()
    assert "привяжите" in reply["text"].lower() and "Slack" in reply["text"]


def test_mattermost_outgoing_webhook_from_an_unlinked_user_sends_the_link_in_a_direct_message_against_a_local_server_speaking_mattermost_api_v4(
    configured: Messenger, _english: None
) -> None:
    response = _mm_post(
        "webhook",
        {
            "token": WEBHOOK_TOKEN,
            "team_id": "team0000000000000000000000",
            "channel_id": MM_CHANNEL,
            "user_id": MM_USER,
            "user_name": "nina",
            "post_id": "post0000000000000000000001",
            "text": f"onboarding {QUESTION}",
            "trigger_word": "onboarding",
        },
    )
    assert response.status_code == 200 and response.json() == {}
    assert tasks.wait_idle(30)
    direct = configured.wait_for("/api/v4/channels/direct")[0]
    assert direct.body[1] == MM_USER
    posts = [r for r in configured.calls("/api/v4/posts") if r.method == "POST"]
    assert len(posts) == 1 and posts[0].body["channel_id"] in DIRECT_CHANNELS
    assert "/accounts/messenger/link/" in posts[0].body["message"]
    assert not Run.objects.exists()


def test_slack_mention_in_a_channel_from_an_unlinked_user_gets_a_link_only_they_see_against_a_local_server_speaking_slack_web_api(
    configured: Messenger, _english: None
) -> None:
    mention = {
        "type": "event_callback",
        "team_id": TEAM,
        "event": {
            "type": "app_mention",
            "channel": CHANNEL,
            "user": SLACK_USER,
            "text": f"<@U0BOT0001> {QUESTION}",
            "ts": "1700000002.000100",
        },
    }
    body = json.dumps(mention).encode()
    response = _slack_post(
        Client(), "/hooks/messenger/slack/events/", body, content_type="application/json"
    )
    assert response.status_code == 200
    offered = configured.wait_for("/api/chat.postEphemeral")
    assert tasks.wait_idle(30)
    # Never a message the channel sees: whoever opened the link would take the account.
    assert configured.calls("/api/chat.postMessage") == []
    assert offered[0].body["user"] == SLACK_USER and offered[0].body["channel"] == CHANNEL
    assert "/accounts/messenger/link/" in offered[0].body["text"]
    assert not Run.objects.exists()
    # Slack's certificate check of the slash command URL is answered, nothing else done.
    ssl = _slack_post(Client(), "/hooks/messenger/slack/commands/", b"ssl_check=1&token=x")
    assert ssl.status_code == 200


# --- answers ----------------------------------------------------------------------------------


def _secret_source(tmp_path: Path, admin_user: User) -> None:
    from apps.knowledge import actions

    root = tmp_path / "secops-onboarding"
    root.mkdir()
    (root / "break-glass.md").write_text(SECRET_DOC)
    source = actions.ingest_directory(admin_user, root, "secops-onboarding", ["secops"]).source
    source.tags = ["onboarding"]
    source.save(update_fields=["tags"])


def test_slack_slash_command_answers_a_linked_user_in_a_thread_with_portal_source_links_against_a_local_server_speaking_slack_web_api(
    configured: Messenger,
    team_kb: TeamKB,
    admin_user: User,
    tmp_path: Path,
    vllm: str,
    _english: None,
) -> None:
    _secret_source(tmp_path, admin_user)
    nina = _user("nina", "sre")
    _link(nina, "slack", SLACK_USER, TEAM)
    started = time.monotonic()
    response = _command(Client(), configured, QUESTION)
    acknowledged = time.monotonic() - started
    assert response.status_code == 200 and acknowledged < 3.0
    assert response.json() == {
        "response_type": "ephemeral",
        "text": "Looking for an answer in the onboarding sources…",
    }
    posted = configured.wait_for("/api/chat.postMessage", 2)
    assert tasks.wait_idle(120)
    question, answer = (r.body for r in posted)
    assert posted[0].headers["Authorization"] == f"Bearer {SLACK_BOT_TOKEN}"
    assert question["channel"] == CHANNEL and QUESTION in question["text"]
    assert "thread_ts" not in question
    # The answer is in the thread of the question.
    assert answer["channel"] == CHANNEL and answer["thread_ts"] == configured.messages[0]["ts"]
    run = Run.objects.get(user=nina, scenario="onboarding")
    assert run.status in (Run.Status.COMPLETE, Run.Status.INTERRUPTED) and run.citations
    page = f"https://opsdesk.example.com/scenarios/onboarding/runs/{run.pk}/"
    assert f"[1] <{page}#source-1|" in answer["text"]
    assert f"<{page}|Open in the portal>" in answer["text"]
    titles = {c["title"] for c in run.citations}
    assert "Cluster access" in titles
    # Posted in a shared channel: only sources every portal user may read, and it says so.
    assert "Cluster break-glass" not in titles and "kube-root" not in answer["text"]
    assert "shared channel" in answer["text"]
    # The run is on the portal for its owner only.
    owner = Client()
    owner.force_login(nina)
    shown = owner.get(f"/scenarios/onboarding/runs/{run.pk}/").content.decode()
    assert 'id="source-1"' in shown
    stranger = Client()
    stranger.force_login(_user("olga", "sre"))
    assert stranger.get(f"/scenarios/onboarding/runs/{run.pk}/").status_code == 404


def test_slack_direct_message_answers_with_the_users_permissions_never_citing_a_source_they_may_not_read_against_a_local_server_speaking_slack_web_api(
    configured: Messenger,
    team_kb: TeamKB,
    admin_user: User,
    tmp_path: Path,
    vllm: str,
    _english: None,
    settings: Any,
) -> None:
    settings.SCENARIO_EXPLANATION_MAX_TOKENS = 60  # two answers on a CPU model: keep them short
    _secret_source(tmp_path, admin_user)
    nina = _user("nina", "sre")
    _link(nina, "slack", SLACK_USER, TEAM)
    event: dict[str, Any] = {
        "token": "XXYYZZ",
        "team_id": TEAM,
        "api_app_id": "A123456",
        "type": "event_callback",
        "event_id": "Ev0PV52K21",
        "event_time": int(time.time()),
        "event": {
            "type": "message",
            "channel_type": "im",
            "channel": "D0NINABOT1",
            "user": SLACK_USER,
            "text": f"<@U0BOT0001> {QUESTION}",
            "ts": "1700000000.000100",
        },
    }
    body = json.dumps(event).encode()
    response = _slack_post(
        Client(), "/hooks/messenger/slack/events/", body, content_type="application/json"
    )
    assert response.status_code == 200
    posted = configured.wait_for("/api/chat.postMessage", 1)
    assert tasks.wait_idle(120)
    answer = posted[0].body
    assert answer["channel"] == "D0NINABOT1" and answer["thread_ts"] == "1700000000.000100"
    run = Run.objects.get(user=nina)
    assert run.facts["question"] == QUESTION  # the mention is not part of it
    assert run.citations and "Cluster break-glass" not in {c["title"] for c in run.citations}
    assert "kube-root" not in answer["text"] and "shared channel" not in answer["text"]
    # A member of secops asking the same in a direct message is cited the secops page.
    sam = _user("sam", "sre", "secops")
    _link(sam, "slack", "U0SAM00001", TEAM)
    event["event"] = {**event["event"], "user": "U0SAM00001", "ts": "1700000001.000100"}
    body = json.dumps(event).encode()
    _slack_post(Client(), "/hooks/messenger/slack/events/", body, content_type="application/json")
    configured.wait_for("/api/chat.postMessage", 2)
    assert tasks.wait_idle(120)
    sams = Run.objects.get(user=sam)
    assert "Cluster break-glass" in {c["title"] for c in sams.citations}


def test_slack_dead_model_backend_gives_a_clear_message_in_the_thread_against_a_local_server_speaking_slack_web_api(
    configured: Messenger, team_kb: TeamKB, _english: None
) -> None:
    from apps.inference.backends import sync_from_settings
    from apps.inference.models import Backend

    # Only the backend on a closed port is left: no model can be reached.
    sync_from_settings()
    Backend.objects.exclude(name="dead-fast").update(enabled=False)
    nina = _user("nina", "sre")
    _link(nina, "slack", SLACK_USER, TEAM)
    assert _command(Client(), configured, QUESTION).status_code == 200
    posted = configured.wait_for("/api/chat.postMessage", 2)
    assert tasks.wait_idle(120)
    answer = posted[1].body
    assert answer["thread_ts"] == configured.messages[0]["ts"]
    assert "The language model is not available" in answer["text"]
    assert "dead-fast" in answer["text"]
    run = Run.objects.get(user=nina)
    assert run.status == Run.Status.FAILED and "dead-fast" in run.error


def test_slack_slash_command_where_the_bot_may_not_post_answers_through_response_url_against_a_local_server_speaking_slack_web_api(
    configured: Messenger, team_kb: TeamKB, settings: Any, _english: None
) -> None:
    from apps.inference.backends import sync_from_settings
    from apps.inference.models import Backend

    sync_from_settings()
    Backend.objects.exclude(name="dead-fast").update(enabled=False)  # no model: a quick answer
    nina = _user("nina", "sre")
    _link(nina, "slack", SLACK_USER, TEAM)
    _command(Client(), configured, QUESTION, channel_id=NOT_IN_CHANNEL)
    replied = configured.wait_for("/commands/", 1)
    assert tasks.wait_idle(60)
    assert replied[0].body["response_type"] == "ephemeral"
    assert "The language model is not available" in replied[0].body["text"]
    # A response_url outside SLACK_RESPONSE_URL_PREFIXES is never called.
    with pytest.raises(slack.SlackError):
        slack.respond("http://169.254.169.254/latest/meta-data/", "x")


def test_mattermost_outgoing_webhook_answers_in_the_thread_of_the_post_and_says_when_the_model_is_down_against_a_local_server_speaking_mattermost_api_v4(
    configured: Messenger, team_kb: TeamKB, _english: None
) -> None:
    from apps.inference.backends import sync_from_settings
    from apps.inference.models import Backend

    sync_from_settings()
    Backend.objects.exclude(name="dead-fast").update(enabled=False)
    nina = _user("nina", "sre")
    _link(nina, "mattermost", MM_USER)
    # The trigger word was typed in a reply: the answer goes to that thread's root.
    root = {"id": "root0000000000000000000001", "root_id": "", "channel_id": MM_CHANNEL}
    reply = {"id": "repl0000000000000000000001", "root_id": root["id"], "channel_id": MM_CHANNEL}
    configured.posts.update({root["id"]: root, reply["id"]: reply})
    response = _mm_post(
        "webhook",
        {
            "token": WEBHOOK_TOKEN,
            "channel_id": MM_CHANNEL,
            "user_id": MM_USER,
            "user_name": "nina",
            "post_id": reply["id"],
            "text": f"onboarding {QUESTION}",
            "trigger_word": "onboarding",
        },
    )
    assert response.status_code == 200 and response.json() == {}
    configured.wait_for("/api/v4/posts", 2)
    assert tasks.wait_idle(60)
    posted = [r.body for r in configured.calls("/api/v4/posts") if r.method == "POST"]
    assert len(posted) == 1 and posted[0]["root_id"] == root["id"]
    assert "The language model is not available" in posted[0]["message"]
    assert "shared channel" in posted[0]["message"]
    assert Run.objects.get(user=nina).facts["question"] == QUESTION


def test_a_task_handed_out_again_answers_once_against_a_local_server_speaking_slack_web_api(
    configured: Messenger, team_kb: TeamKB, _english: None
) -> None:
    """With acks_late, Celery gives a task to another worker when the one running it died:
    the same request must not be answered twice."""
    from apps.inference.backends import sync_from_settings
    from apps.inference.models import Backend

    sync_from_settings()
    Backend.objects.exclude(name="dead-fast").update(enabled=False)
    nina = _user("nina", "sre")
    _link(nina, "slack", SLACK_USER, TEAM)
    job = {
        "kind": "slack",
        "id": "3b7f0c2e9a7d4c41a1f0c0de5e1f2a3b",
        "team": TEAM,
        "user": SLACK_USER,
        "user_name": "nina",
        "channel": "D0NINABOT1",
        "thread_ts": "1700000003.000100",
        "question": QUESTION,
        "command": False,
        "private": True,
        "base": "https://opsdesk.example.com",
    }
    assert tasks.slack_answer(job) == "failed"  # the model is down: said in the thread
    assert tasks.slack_answer(job) == "duplicate"
    assert len(configured.calls("/api/chat.postMessage")) == 1
    assert Run.objects.filter(user=nina).count() == 1


def test_mattermost_slash_command_answers_in_a_thread_with_root_id_against_a_local_server_speaking_mattermost_api_v4(
    configured: Messenger, team_kb: TeamKB, vllm: str, _english: None
) -> None:
    nina = _user("nina", "sre")
    _link(nina, "mattermost", MM_USER)
    response = _mm_post(
        "command",
        {
            "token": COMMAND_TOKEN,
            "team_id": "team0000000000000000000000",
            "team_domain": "example",
            "channel_id": MM_CHANNEL,
            "channel_name": "town-square",
            "user_id": MM_USER,
            "user_name": "nina",
            "command": "/onboarding",
            "text": QUESTION,
            "response_url": "http://127.0.0.1:9/hooks/commands/x",
            "trigger_id": "abc",
        },
    )
    assert response.status_code == 200 and response.json()["response_type"] == "ephemeral"
    configured.wait_for("/api/v4/posts", 2)
    assert tasks.wait_idle(120)
    posts = [r for r in configured.calls("/api/v4/posts") if r.method == "POST"]
    question, answer = (r.body for r in posts)
    assert posts[0].headers["Authorization"] == f"Bearer {MATTERMOST_BOT_TOKEN}"
    assert QUESTION in question["message"] and not question.get("root_id")
    root = next(p for p in configured.posts.values() if not p["root_id"])
    assert answer["root_id"] == root["id"] and answer["channel_id"] == MM_CHANNEL
    run = Run.objects.get(user=nina)
    page = f"https://opsdesk.example.com/scenarios/onboarding/runs/{run.pk}/"
    assert run.citations and f"1. [{run.citations[0]['title']}" in answer["message"]
    assert f"]({page}#source-1)" in answer["message"]
    assert answer["props"] == {"disable_group_highlight": True}


def test_hostile_text_pages_nobody() -> None:
    assert slack.escape("<!channel> & <@U1>") == "&lt;!channel&gt; &amp; &lt;@U1&gt;"
    answer = "## Access\n**k8s-readers** <!here|here> [IDM](https://idm.example/?a=1&b=2) [x](javascript:alert(1))"
    assert slack.mrkdwn(answer) == (
        "*Access*\n*k8s-readers* &lt;!here|here&gt; <https://idm.example/?a=1&amp;b=2|IDM> "
        "[x](javascript:alert(1))"
    )
    assert "<!" not in slack.link("https://x/#1", "<!here>")
    assert mattermost.quiet("ping @channel and @ALL, not @alice") == (
        "ping @\u200bchannel and @\u200bALL, not @alice"
    )
    assert mattermost.link("https://x/a) [b]", "t](evil)") == "[t)(evil)](https://x/a%29%20[b])"


# --- the console ------------------------------------------------------------------------------


def test_the_console_shows_which_messenger_is_configured_to_admins_only(
    configured: Messenger, settings: Any, admin_client: Client, member_client: Client
) -> None:
    settings.MATTERMOST_BOT_TOKEN = ""
    page = admin_client.get("/admin-console/scenarios/messenger/", HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200
    html = page.content.decode()
    assert "/hooks/messenger/slack/events/" in html and "MATTERMOST_BOT_TOKEN" in html
    assert SIGNING_SECRET not in html and SLACK_BOT_TOKEN not in html
    assert member_client.get("/admin-console/scenarios/messenger/").status_code in (302, 403)
    assert admin_client.post("/admin-console/scenarios/messenger/").status_code == 405
