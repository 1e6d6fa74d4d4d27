"""Mattermost channels against a local HTTP server answering in the API v4's recorded shapes.

No Mattermost server can run here, so the test starts a loopback HTTP server that answers
the endpoints the connector calls (GET /api/v4/teams/name/{team}, GET
/api/v4/teams/{id}/channels/name/{name}, GET /api/v4/channels/{id}/posts with page/per_page
and with since, GET /api/v4/posts/{id}/thread, POST /api/v4/users/ids) with objects of the
shape Mattermost 9/10 returns: full post objects (create_at, update_at, edit_at, delete_at,
root_id, type, props, metadata...), PostList answers ({"order", "posts", "next_post_id",
"prev_post_id", "has_next"}) and user objects. The messages are invented for the test.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from django.contrib.auth.models import User

from apps.knowledge import actions
from apps.knowledge.ingest.connectors import mattermost
from apps.knowledge.models import IndexJob, Source
from apps.knowledge.search import retrieval
from apps.knowledge.tests.httpfixture import serve

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fetch_from_loopback")]

TEAM = {"id": "tm5y8c4f1jb3xq7p9w2r6zk0ha", "name": "ops", "display_name": "Operations"}
CHANNEL = {
    "id": "ch1kq8w3e5r7t9y2u4i6o8p0as",
    "team_id": TEAM["id"],
    "type": "P",
    "name": "incidents",
    "display_name": "Incidents",
    "header": "",
    "purpose": "",
    "delete_at": 0,
}
USERS = [
    {
        "id": "us7ivanivanivanivanivanaaa",
        "username": "ivan",
        "first_name": "Иван",
        "last_name": "Петров",
        "nickname": "",
        "is_bot": False,
        "delete_at": 0,
    },  # fmt: skip
    {
        "id": "us7olgaolgaolgaolgaolgaaaa",
        "username": "olga",
        "first_name": "Olga",
        "last_name": "Smirnova",
        "nickname": "",
        "is_bot": False,
        "delete_at": 0,
    },  # fmt: skip
    {
        "id": "us7botbotbotbotbotbotbotaa",
        "username": "alertbot",
        "first_name": "",
        "last_name": "",
        "nickname": "",
        "is_bot": True,
        "bot_description": "Alertmanager",
        "delete_at": 0,
    },  # fmt: skip
]
IVAN, OLGA, BOT = (str(u["id"]) for u in USERS)
T0 = 1_764_000_000_000  # ms


def post(
    pid: str, user: str, message: str, at: int, root: str = "", **extra: Any
) -> dict[str, Any]:
    """A post object as API v4 returns it."""
    body = {
        "id": pid.ljust(26, "a")[:26],
        "create_at": at,
        "update_at": at,
        "edit_at": 0,
        "delete_at": 0,
        "is_pinned": False,
        "user_id": user,
        "channel_id": CHANNEL["id"],
        "root_id": root.ljust(26, "a")[:26] if root else "",
        "original_id": "",
        "message": message,
        "type": "",
        "props": {},
        "hashtags": "",
        "pending_post_id": "",
        "reply_count": 0,
        "last_reply_at": 0,
        "participants": None,
        "metadata": {},
    }
    body.update(extra)
    return body


class FakeMattermost:
    """The server's posts, changed by the test between syncs."""

    def __init__(self) -> None:
        self.posts: dict[str, dict[str, Any]] = {}
        self.requests: list[str] = []
        self.token = "bot-token-7d1f"

    def add(self, *posts: dict[str, Any]) -> None:
        for p in posts:
            self.posts[p["id"]] = p

    def route(self, handler):
        url = urlparse(handler.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        self.requests.append(f"{handler.command} {handler.path}")
        if handler.headers.get("Authorization") != f"Bearer {self.token}":
            return self.error(401, "api.context.session_expired.app_error", "Invalid or expired session, please login again.")  # fmt: skip
        path = url.path.removeprefix("/api/v4")
        if path == "/teams/name/ops":
            return self.ok(TEAM)
        if path == f"/teams/{TEAM['id']}/channels/name/incidents":
            return self.ok(CHANNEL)
        if path == f"/channels/{CHANNEL['id']}/posts":
            return self.ok(self.post_list(query))
        if path.startswith("/posts/") and path.endswith("/thread"):
            root = path.split("/")[2]
            if root not in self.posts or self.posts[root]["delete_at"]:
                return self.error(404, "app.post.get.app_error", "Unable to get the post.")
            live = [
                p
                for p in self.posts.values()
                if (p["id"] == root or p["root_id"] == root) and not p["delete_at"]
            ]
            return self.ok(self.as_list(live))
        if path == "/users/ids" and handler.command == "POST":
            wanted = json.loads(handler.body)
            return self.ok([u for u in USERS if u["id"] in wanted])
        return self.error(404, "api.context.404.app_error", "Sorry, we could not find the page.")

    def post_list(self, query: dict[str, str]) -> dict[str, Any]:
        if "since" in query:
            since = int(query["since"])
            return self.as_list([p for p in self.posts.values() if p["update_at"] > since])
        live = sorted(
            (p for p in self.posts.values() if not p["delete_at"]),
            key=lambda p: p["create_at"],
            reverse=True,
        )
        page, per_page = int(query.get("page", 0)), int(query.get("per_page", 60))
        return self.as_list(live[page * per_page : (page + 1) * per_page])

    @staticmethod
    def as_list(posts: list[dict[str, Any]]) -> dict[str, Any]:
        ordered = sorted(posts, key=lambda p: p["create_at"], reverse=True)
        return {
            "order": [p["id"] for p in ordered],
            "posts": {p["id"]: p for p in ordered},
            "next_post_id": "",
            "prev_post_id": "",
            "has_next": False,
        }

    @staticmethod
    def ok(body: Any) -> tuple[int, str, bytes]:
        return 200, "application/json", json.dumps(body).encode()

    @staticmethod
    def error(status: int, eid: str, message: str) -> tuple[int, str, bytes]:
        body = {"id": eid, "message": message, "detailed_error": "", "request_id": "x", "status_code": status}  # fmt: skip
        return status, "application/json", json.dumps(body).encode()


def seed(server: FakeMattermost) -> None:
    server.add(
        post("ceph", IVAN, "Ceph OSD osd.12 flapping after the node reboot, what to check?", T0),
        post(
            "cephre1",
            OLGA,
            "Run `ceph osd tree` and look at the OSD journal:\n```\njournalctl -u ceph-osd@12\n```",
            T0 + 60_000,
            root="ceph",
        ),  # fmt: skip
        post(
            "cephre2", IVAN, "Thanks, the disk was failing; replaced it.", T0 + 120_000, root="ceph"
        ),  # fmt: skip
        post("join", OLGA, "olga joined the channel.", T0 + 1000, type="system_join_channel"),
        post(
            "alert",
            BOT,
            "FIRING: KubePodCrashLooping payments-api",
            T0 + 2000,
            props={"from_bot": "true"},
        ),  # fmt: skip
        post(
            "hook",
            OLGA,
            "Deploy finished by the CI webhook",
            T0 + 3000,
            props={"from_webhook": "true"},
        ),  # fmt: skip
        post(
            "rabbit",
            OLGA,
            "RabbitMQ queue billing.events backlog grows, consumers stuck?",
            T0 + 200_000,
        ),  # fmt: skip
        post(
            "rabbitre",
            IVAN,
            "Restart the billing consumer deployment; prefetch was 0.",
            T0 + 260_000,
            root="rabbit",
        ),  # fmt: skip
        post("redis", IVAN, "Redis latency spikes every hour on redis-cache-2", T0 + 300_000),
    )


def make_source(admin: User, base: str, token: str) -> Source:
    return actions.save_source(
        admin,
        name="mm-incidents",
        type=Source.Type.MATTERMOST,
        groups=["sre"],
        settings={"url": base, "team": "ops", "channels": ["incidents"]},
        secrets={"token": token},
    )


def test_mattermost_threads_permalinks_and_permissions_recorded_api_v4(
    admin_user: User, member: User, outsider: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mattermost, "PER_PAGE", 3)  # the listing takes several pages
    server = FakeMattermost()
    seed(server)
    with serve(server.route) as (base, _):
        source = make_source(admin_user, base, server.token)
        job = actions.start_job(admin_user, source, wait=True)
    job.refresh_from_db()
    assert job.state == IndexJob.State.DONE, job.message
    assert sum("page=2" in r for r in server.requests) == 1  # paged through 9 posts by 3
    docs = {d.external_id.split("/")[1][:6]: d for d in source.documents.all()}
    assert sorted(docs) == ["cephaa", "rabbit", "redisa"]  # bots, webhooks and joins skipped
    ceph = docs["cephaa"]
    assert ceph.link == f"{base}/ops/pl/{'ceph'.ljust(26, 'a')}"
    assert (
        ceph.title == "~incidents: Ceph OSD osd.12 flapping after the node reboot, what to check?"
    )
    assert ceph.version == str(T0 + 120_000)

    hits = retrieval.search(member, "ceph osd journal flapping", k=3)
    assert hits and hits[0].link == ceph.link and hits[0].source == "mm-incidents"
    text = " ".join(h.text for h in hits if h.document_id == ceph.external_id)
    assert "Olga Smirnova (@olga)" in text and "Иван Петров (@ivan)" in text
    assert "journalctl -u ceph-osd@12" in text and "2025-11-24" in text  # who, when, code
    everything = " ".join(h.text for h in retrieval.search(member, "FIRING KubePodCrashLooping joined the channel webhook", k=10))  # fmt: skip
    assert "FIRING" not in everything and "joined the channel" not in everything
    # Outside the source's group: none of the channel's threads.
    assert retrieval.search(outsider, "ceph osd journal flapping", k=10) == []
    assert retrieval.search(outsider, "RabbitMQ billing consumer backlog", k=10) == []


def test_mattermost_incremental_sync_fetches_only_changed_threads_recorded_api_v4(
    admin_user: User, member: User
) -> None:
    server = FakeMattermost()
    seed(server)
    with serve(server.route) as (base, _):
        source = make_source(admin_user, base, server.token)
        first = actions.start_job(admin_user, source, wait=True)
        first.refresh_from_db()
        assert first.state == IndexJob.State.DONE, first.message
        source.refresh_from_db()
        assert source.sync_state["cursors"] == {CHANNEL["id"]: T0 + 300_000}

        # A new answer in the RabbitMQ thread, the Redis question deleted, a new thread.
        server.add(post("rabbitre2", OLGA, "Also raise the prefetch count to 50 for billing.", T0 + 400_000, root="rabbit"))  # fmt: skip
        gone = server.posts["redis".ljust(26, "a")]
        gone.update(delete_at=T0 + 410_000, update_at=T0 + 410_000)
        server.add(post("nginx", OLGA, "Nginx 502 from the ingress for payments since 10:40", T0 + 420_000))  # fmt: skip
        server.requests.clear()
        second = actions.start_job(admin_user, source, wait=True)
    second.refresh_from_db()
    assert second.state == IndexJob.State.DONE, second.message
    posts_calls = [r for r in server.requests if "/posts?" in r]
    assert posts_calls and all("since=" in r and "page=" not in r for r in posts_calls)
    threads = sorted(r.split("/posts/")[1][:6] for r in server.requests if r.endswith("/thread"))
    assert threads == ["nginxa", "rabbit"]  # the Ceph thread was not fetched again
    assert second.docs_skipped == 1 and second.docs_removed == 1
    ids = {d.external_id.split("/")[1][:6] for d in source.documents.all()}
    assert ids == {"cephaa", "rabbit", "nginxa"}  # the deleted thread left the index
    assert not any(
        "redis-cache-2" in h.text for h in retrieval.search(member, "Redis latency spikes", k=10)
    )
    hits = retrieval.search(member, "prefetch count billing", k=3)
    assert "raise the prefetch count to 50" in " ".join(h.text for h in hits)

    # A rebuild pages through the channel again.
    server.requests.clear()
    with serve(server.route) as (base2, _):
        Source.objects.filter(pk=source.pk).update(settings={**source.settings, "url": base2})
        source.refresh_from_db()
        rebuild = actions.start_job(admin_user, source, IndexJob.Kind.REBUILD, wait=True)
    rebuild.refresh_from_db()
    assert rebuild.state == IndexJob.State.DONE, rebuild.message
    assert any("page=0" in r for r in server.requests)
    assert source.documents.count() == 3


def test_mattermost_hostile_answers_fail_clearly_recorded_api_v4(
    admin_user: User, settings: Any
) -> None:
    server = FakeMattermost()
    seed(server)
    with serve(server.route) as (base, _):
        source = make_source(admin_user, base, "wrong-token")
        job = actions.start_job(admin_user, source, wait=True)
    job.refresh_from_db()
    assert job.state == IndexJob.State.FAILED
    assert "HTTP 401" in job.message and "Invalid or expired session" in job.message
    assert "wrong-token" not in job.message

    def broken(handler):
        if "/posts" in handler.path:
            return 200, "application/json", b'{"order": ["x"], "posts": {'
        return server.route(handler)

    with serve(broken) as (base, _):
        Source.objects.filter(pk=source.pk).update(settings={**source.settings, "url": base})
        source.refresh_from_db()
        actions.save_source(
            admin_user,
            source=source,
            name=source.name,
            type=source.type,
            settings=source.settings,
            groups=["sre"],
            secrets={"token": server.token},
        )
        job = actions.start_job(admin_user, source, wait=True)
    job.refresh_from_db()
    assert job.state == IndexJob.State.FAILED
    assert "/channels/" in job.message and "not JSON" in job.message

    settings.KNOWLEDGE_MAX_FILE_MB = 1

    def huge(handler):
        if "/posts" in handler.path:
            return 200, "application/json", b'{"posts": {}, "pad": "' + b"x" * 3_000_000 + b'"}'
        return server.route(handler)

    with serve(huge) as (base, _):
        Source.objects.filter(pk=source.pk).update(settings={**source.settings, "url": base})
        source.refresh_from_db()
        job = actions.start_job(admin_user, source, wait=True)
    job.refresh_from_db()
    assert job.state == IndexJob.State.FAILED and "KNOWLEDGE_MAX_FILE_MB" in job.message


def test_mattermost_source_form_needs_team_and_channels_and_keeps_the_token_secret(
    admin_client: Any,
) -> None:
    from django.urls import reverse

    from apps.knowledge import crypto

    url = reverse("knowledge_console:source_new")
    form = {"name": "mm", "type": "mattermost", "url": "https://chat.example", "enabled": "on"}
    page = admin_client.post(url, {**form, "token": "tok-1"}).content.decode()
    # In Russian, the portal's default language.
    assert "Укажите команду, каналы которой нужно читать." in page
    assert "Укажите хотя бы один канал." in page and "tok-1" not in page
    refused = admin_client.post(url, {**form, "url": "http://169.254.169.254", "team": "ops", "channels": "town-square"})  # fmt: skip
    assert refused.status_code == 200 and not Source.objects.filter(name="mm").exists()
    # Saved; the sync it queues runs after the commit, which this test's transaction never makes.
    ok = admin_client.post(url, {**form, "team": "ops", "channels": "incidents\ntown-square", "token": "tok-1"})  # fmt: skip
    assert ok.status_code == 302
    source = Source.objects.get(name="mm")
    assert source.settings == {"url": "https://chat.example", "team": "ops", "channels": ["incidents", "town-square"]}  # fmt: skip
    assert crypto.decrypt(source.secrets_encrypted) == {"token": "tok-1"}
    assert "tok-1" not in source.secrets_encrypted


def test_mattermost_too_many_changes_page_through_the_channel_recorded_api_v4(
    admin_user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = FakeMattermost()
    seed(server)
    with serve(server.route) as (base, _):
        source = make_source(admin_user, base, server.token)
        actions.start_job(admin_user, source, wait=True)
        monkeypatch.setattr(mattermost, "SINCE_LIMIT", 2)  # the server's cap, made small
        for n in range(3):
            server.add(post(f"etcd{n}", OLGA, f"etcd member {n} unhealthy", T0 + 500_000 + n))
        server.requests.clear()
        job = actions.start_job(admin_user, source, wait=True)
    job.refresh_from_db()
    assert job.state == IndexJob.State.DONE, job.message
    posts_calls = [r for r in server.requests if "/posts?" in r]
    assert "since=" in posts_calls[0] and "page=0" in posts_calls[1]
    assert source.documents.count() == 6 and job.docs_skipped == 3
