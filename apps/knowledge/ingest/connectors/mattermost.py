"""Mattermost channels through the REST API v4, read with a bot's access token.

Settings: url (the server), team (its URL name, used in permalinks), channels (channel URL
names or ids); secrets: token (a bot account's or personal access token, sent as
`Authorization: Bearer`). A thread (a root post and its replies, joined by `root_id`) is one
document: id `<channel id>/<root post id>`, version the newest `update_at` of its posts,
link the root post's permalink `<url>/<team>/pl/<root post id>`. Bot posts (`from_bot`,
`from_webhook`, bot users) and system posts (joins, leaves, header changes: any post
`type`) are skipped.

Incremental: the first sync of a channel pages through all its posts; later syncs ask only
for posts changed since the newest `update_at` seen (`?since=`, which also returns deleted
posts), so only threads with new, edited or deleted posts are fetched again. Every other
thread is listed from what the index holds. A deleted root post removes its thread. The
server answers `since` with at most 1000 posts: a channel with more changes than that is
paged through again. A rebuild pages through every channel.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from apps.knowledge.ingest.connectors import Connector, ConnectorError, DocRef, Fetched, FetchError
from apps.knowledge.ingest.connectors.chat import Message, Thread, render
from apps.knowledge.ingest.connectors.httpjson import JsonApi, expect

PER_PAGE = 200
MAX_PAGES = 5000  # a million posts per channel: past that the server is not answering sanely
SINCE_LIMIT = 1000  # the server's cap on a `since` answer
OVERLAP_MS = 1000  # posts saved in the same second as the cursor are asked for again
_ID = re.compile(r"^[a-z0-9]{26}$")


def human(post: dict[str, Any], bots: set[str]) -> bool:
    """A person's message: not a system post, not from a bot, webhook or bot account."""
    props = post.get("props") or {}
    if not isinstance(props, dict):
        props = {}
    if post.get("type"):
        return False  # system_join_channel, system_leave_channel, system_header_change, ...
    if str(props.get("from_bot", "")).lower() == "true":
        return False
    if str(props.get("from_webhook", "")).lower() == "true":
        return False
    return str(post.get("user_id", "")) not in bots


def _posts(answer: Any, what: str) -> list[dict[str, Any]]:
    """The posts of a PostList answer ({"order": [...], "posts": {id: post}})."""
    answer = expect(answer, dict, what)
    posts = answer.get("posts") or {}
    if not isinstance(posts, dict):
        raise ConnectorError(f"unexpected answer for {what}: `posts` is not an object")
    return [p for p in posts.values() if isinstance(p, dict) and isinstance(p.get("id"), str)]


class MattermostConnector(Connector):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.server = str(self.settings.get("url", "")).strip().rstrip("/")
        self.team = str(self.settings.get("team", "")).strip()
        token = self.secrets.get("token", "")
        self.api = JsonApi(
            f"{self.server}/api/v4", "Mattermost", {"Authorization": f"Bearer {token}"}
        )
        self.users: dict[str, dict[str, Any]] = {}
        self.bots: set[str] = set()
        self.cursors: dict[str, int] = {}
        self.channel_names: dict[str, str] = {}

    def close(self) -> None:
        self.api.close()

    # --- directory of channels and users -------------------------------------------------
    def _channel(self, team_id: str, wanted: str) -> dict[str, Any]:
        if _ID.match(wanted):
            try:
                return expect(self.api.get(f"/channels/{wanted}"), dict, f"channel {wanted}")
            except ConnectorError:
                pass  # a 26-letter channel name: looked up by name below
        answer = self.api.get(f"/teams/{team_id}/channels/name/{quote(wanted, safe='')}")
        return expect(answer, dict, f"channel {wanted}")

    def _load_users(self, ids: set[str], error: type[Exception] = ConnectorError) -> None:
        missing = sorted(i for i in ids if i and i not in self.users)
        for start in range(0, len(missing), 100):
            answer = self.api.json(
                "POST", "/users/ids", body=missing[start : start + 100], error=error
            )
            for user in expect(answer, list, "users/ids", error):
                if isinstance(user, dict) and isinstance(user.get("id"), str):
                    self.users[user["id"]] = user
                    if user.get("is_bot"):
                        self.bots.add(user["id"])

    def author(self, user_id: str) -> str:
        user = self.users.get(user_id)
        if not user:
            return user_id or "?"
        full = " ".join(str(user.get(k) or "").strip() for k in ("first_name", "last_name"))
        name = full.strip() or str(user.get("nickname") or "").strip()
        username = str(user.get("username") or user_id)
        return f"{name} (@{username})" if name else f"@{username}"

    def permalink(self, post_id: str) -> str:
        return f"{self.server}/{quote(self.team, safe='')}/pl/{post_id}"

    # --- listing -------------------------------------------------------------------------
    def _all_posts(self, channel_id: str) -> list[dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for page in range(MAX_PAGES):
            answer = self.api.get(
                f"/channels/{channel_id}/posts", params={"page": page, "per_page": PER_PAGE}
            )
            posts = _posts(answer, f"posts of channel {channel_id}")
            for post in posts:
                found[post["id"]] = post
            if len(posts) < PER_PAGE:
                return list(found.values())
        raise ConnectorError(f"channel {channel_id}: more than {MAX_PAGES} pages of posts")

    def _changed_posts(self, channel_id: str, since: int) -> list[dict[str, Any]] | None:
        """Posts changed since `since` (deleted ones included), or None: page through all."""
        answer = self.api.get(
            f"/channels/{channel_id}/posts", params={"since": max(0, since - OVERLAP_MS)}
        )
        posts = _posts(answer, f"posts of channel {channel_id} since {since}")
        return None if len(posts) >= SINCE_LIMIT else posts

    def list_documents(self) -> Iterator[DocRef]:
        if not self.server.startswith(("http://", "https://")) or not self.team:
            raise ConnectorError("the Mattermost source needs the server URL and the team name")
        team = expect(self.api.get(f"/teams/name/{quote(self.team, safe='')}"), dict, "team")
        state = dict(self.source.sync_state or {}) if not self.full else {}
        cursors: dict[str, int] = {
            k: v for k, v in (state.get("cursors") or {}).items() if isinstance(v, int)
        }
        known: dict[str, dict[str, DocRef]] = {}
        for doc in self.source.documents.all():
            channel_id, _, _root = doc.external_id.partition("/")
            known.setdefault(channel_id, {})[doc.external_id] = DocRef(
                external_id=doc.external_id,
                version=doc.version,
                path=doc.path,
                title=doc.title,
                link=doc.link,
            )
        for wanted in self.settings.get("channels") or []:
            channel = self._channel(str(team.get("id", "")), str(wanted))
            channel_id = str(channel.get("id", ""))
            if not _ID.match(channel_id):
                raise ConnectorError(f"channel {wanted}: the server gave no channel id")
            name = str(channel.get("name") or wanted)
            self.channel_names[channel_id] = name
            yield from self._list_channel(channel_id, name, cursors, known.get(channel_id, {}))
        self.cursors = cursors

    def _list_channel(
        self, channel_id: str, name: str, cursors: dict[str, int], known: dict[str, DocRef]
    ) -> Iterator[DocRef]:
        since = cursors.get(channel_id)
        changed = self._changed_posts(channel_id, since) if since is not None else None
        full = changed is None
        posts = self._all_posts(channel_id) if full else (changed or [])
        self._load_users({str(p.get("user_id", "")) for p in posts})
        threads: dict[str, int] = {}  # root id -> newest update_at of its posts
        deleted_roots: set[str] = set()
        newest = since or 0
        for post in posts:
            updated = int(post.get("update_at") or post.get("create_at") or 0)
            newest = max(newest, updated)
            root = str(post.get("root_id") or post["id"])
            if post.get("delete_at"):
                if root == post["id"]:
                    deleted_roots.add(root)
                elif f"{channel_id}/{root}" in known:
                    threads[root] = max(threads.get(root, 0), updated)  # a reply removed
                continue
            if human(post, self.bots) or (not full and f"{channel_id}/{root}" in known):
                threads[root] = max(threads.get(root, 0), updated)
        cursors[channel_id] = newest
        listed = set()
        for root, updated in threads.items():
            if root in deleted_roots:
                continue
            key = f"{channel_id}/{root}"
            listed.add(key)
            old = known.get(key)
            version = str(max(updated, int(old.version) if old and old.version.isdigit() else 0))
            yield DocRef(
                external_id=key,
                version=version,
                path=f"{name}/{root}",
                title=old.title if old else "",
                link=self.permalink(root),
            )
        if not full:
            # Threads without changes stay as indexed; deleted ones are not listed: removed.
            for key, ref in known.items():
                if key not in listed and key.split("/", 1)[1] not in deleted_roots:
                    yield ref

    def sync_state(self) -> dict[str, Any] | None:
        return {"cursors": self.cursors}

    # --- one thread ----------------------------------------------------------------------
    def fetch(self, ref: DocRef) -> Fetched:
        channel_id, _, root = ref.external_id.partition("/")
        answer = self.api.get(f"/posts/{root}/thread", error=FetchError)
        try:
            posts = _posts(answer, f"thread {root}")
        except ConnectorError as exc:
            raise FetchError(str(exc)) from None
        self._load_users({str(p.get("user_id", "")) for p in posts}, error=FetchError)
        name = self.channel_names.get(channel_id) or ref.path.split("/")[0]
        thread = Thread(ref.external_id, f"~{name}", ref.path, self.permalink(root))
        for post in posts:
            if post.get("delete_at") or not human(post, self.bots):
                continue
            if str(post.get("channel_id", channel_id)) != channel_id:
                continue  # a thread belongs to one channel: anything else is not this source's
            edited = int(post.get("edit_at") or 0) / 1000
            thread.add(
                Message(
                    self.author(str(post.get("user_id", ""))),
                    int(post.get("create_at") or 0) / 1000,
                    str(post.get("message") or ""),
                    edited,
                )
            )
        if not any(m.text.strip() for m in thread.messages):
            raise FetchError("no messages from people in this thread (only bot or system posts)")
        return Fetched(
            data=render(thread),
            name="thread.html",
            content_type="text/html",
            title=thread.title(),
            link=thread.link,
        )
