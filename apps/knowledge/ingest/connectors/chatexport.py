"""Uploaded chat exports: Slack export archives and Mattermost bulk exports.

Files uploaded on the source's form are kept in its upload directory (var/uploads/<id>/):
- a Slack export `.zip`: channels.json (and groups.json, private channels), users.json and
  one JSON file per channel and day (`<channel>/<YYYY-MM-DD>.json`, a list of messages);
  threads are joined by `thread_ts`; permalinks `<url>/archives/<channel id>/p<ts>` when the
  source's URL (the workspace, https://team.slack.com) is set;
- a Mattermost bulk export, `.jsonl` (`mmctl export create`'s import.jsonl), or a `.zip`
  holding one: `channel`, `user` and `post` lines, a post carrying its `replies`; direct
  messages are not indexed. Bulk exports carry no post ids, so the link is the channel's
  (`<url>/<team>/channels/<name>`) when the source's URL is set.

Several files may be uploaded: threads are merged by channel and thread, so a newer export
beside an older one adds what is new. A thread is one document (chat.py); its version is a
hash of its messages, so a new upload re-indexes only threads that changed.

Archives are untrusted. Nothing is extracted to disk; member names that are absolute, climb
out with `..` or carry NUL bytes are refused; a member larger than KNOWLEDGE_MAX_FILE_MB (as
declared, and as actually inflated), compressed more than MAX_RATIO to one (a zip bomb), or
past KNOWLEDGE_MAX_ARCHIVE_MB inflated in one archive is refused; malformed JSON is reported
with its file, line and column. Each such problem is listed as a document with that error
(the admin sees it in the job), and the rest of the export is read. While any file of the
source has an error, no thread is removed: threads indexed before stay as they were.
"""

from __future__ import annotations

import html
import json
import os
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from django.conf import settings

from apps.knowledge.ingest.connectors import Connector, DocRef, Fetched, FetchError, max_bytes
from apps.knowledge.ingest.connectors.chat import Broken, Message, Thread, render
from apps.knowledge.ingest.connectors.directory import upload_dir

MAX_RATIO = 200
MAX_MEMBERS = 100_000
# Kept: a person's message, a reply also sent to the channel, a file shared with a comment.
SLACK_KEPT = {"", "thread_broadcast", "file_share", "me_message"}
_DAY = re.compile(r"^(\d{4}-\d{2}-\d{2})\.json$")
_SLACK_REF = re.compile(r"<([@#!])?([^<>|]*)(?:\|([^<>]*))?>")


class Unreadable(Exception):
    """One file or line of an export cannot be used; the message names it."""


def _member_problem(name: str) -> str | None:
    if "\x00" in name or "\\" in name:
        return "a file name with NUL or backslash characters"
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or re.match(r"^[A-Za-z]:", name):
        return "a file name pointing outside the archive (absolute or with ..)"
    return None


class Archive:
    """A zip file read member by member within the limits above."""

    def __init__(self, path: Path):
        self.label = path.name
        self.zip = zipfile.ZipFile(path)
        self.inflated = 0
        infos = self.zip.infolist()
        if len(infos) > MAX_MEMBERS:
            raise Unreadable(f"{self.label}: more than {MAX_MEMBERS} files in the archive")
        self.members = {i.filename: i for i in infos if not i.is_dir()}

    def close(self) -> None:
        self.zip.close()

    def read(self, name: str) -> bytes:
        info = self.members[name]
        where = f"{self.label}/{name}"
        if problem := _member_problem(name):
            raise Unreadable(f"{where}: {problem}; not read")
        limit = max_bytes()
        if info.file_size > limit:
            raise Unreadable(
                f"{where}: {info.file_size / 1024 / 1024:.0f} MB inflated, over the limit of "
                f"{settings.KNOWLEDGE_MAX_FILE_MB} MB (KNOWLEDGE_MAX_FILE_MB)"
            )
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > 1024 * 1024 and ratio > MAX_RATIO:
            raise Unreadable(f"{where}: compressed {ratio:.0f} to 1, a zip bomb; not read")
        budget = settings.KNOWLEDGE_MAX_ARCHIVE_MB * 1024 * 1024 - self.inflated
        try:
            with self.zip.open(info) as handle:
                # The sizes in the archive may lie: the inflated bytes are counted as read.
                data = handle.read(min(limit, budget) + 1)
        except (zipfile.BadZipFile, RuntimeError, NotImplementedError, OSError, EOFError) as exc:
            raise Unreadable(f"{where}: {exc}") from None
        self.inflated += len(data)
        if len(data) > budget:
            raise Unreadable(
                f"{where}: the archive inflates past {settings.KNOWLEDGE_MAX_ARCHIVE_MB} MB "
                "(KNOWLEDGE_MAX_ARCHIVE_MB); the rest of it is not read"
            )
        if len(data) > limit:
            raise Unreadable(f"{where}: inflates past {settings.KNOWLEDGE_MAX_FILE_MB} MB")
        return data


def _json(data: bytes, where: str) -> Any:
    try:
        return json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise Unreadable(f"{where}: not UTF-8 text (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise Unreadable(f"{where} line {exc.lineno} column {exc.colno}: {exc.msg}") from None


class ChatExportConnector(Connector):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.url = str(self.settings.get("url", "")).strip().rstrip("/")
        self.threads: dict[str, Thread] = {}
        self.broken: dict[str, Broken] = {}
        self.mm_names: dict[str, str] = {}
        self.mm_private: dict[tuple[str, str], bool] = {}
        # Channels named on the source; none: every public channel. A private channel is
        # read only when named: its audience is not the source's groups by default.
        self.wanted = {str(c).lstrip("#~") for c in self.settings.get("channels") or []}

    def _wanted(self, name: str, private: bool) -> bool:
        return name in self.wanted if (private or self.wanted) else True

    def _broken(self, external_id: str, path: str, error: str) -> None:
        self.broken[external_id] = Broken(external_id, path, error)

    def _thread(self, external_id: str, channel: str, path: str, link: str) -> Thread:
        thread = self.threads.get(external_id)
        if thread is None:
            thread = self.threads[external_id] = Thread(external_id, channel, path, link)
        return thread

    # --- files ---------------------------------------------------------------------------
    def list_documents(self) -> Iterator[DocRef]:
        folder = upload_dir(self.source.pk)
        names = sorted(os.listdir(folder)) if folder.is_dir() else []
        for name in names:
            path = folder / name
            if name.startswith(".") or not path.is_file() or path.is_symlink():
                continue
            try:
                if name.lower().endswith(".zip"):
                    self._read_zip(path)
                elif name.lower().endswith(".jsonl"):
                    if path.stat().st_size > settings.KNOWLEDGE_MAX_ARCHIVE_MB * 1024 * 1024:
                        raise Unreadable(
                            f"{name}: larger than {settings.KNOWLEDGE_MAX_ARCHIVE_MB} MB "
                            "(KNOWLEDGE_MAX_ARCHIVE_MB); not read"
                        )
                    with open(path, "rb") as handle:
                        self._read_mattermost(handle, name)
                else:
                    raise Unreadable(
                        f"{name}: not a Slack export (.zip) or Mattermost bulk export (.jsonl)"
                    )
            except Unreadable as exc:
                self._broken(f"!{name}", name, str(exc))
            except (zipfile.BadZipFile, OSError) as exc:
                self._broken(f"!{name}", name, f"{name}: not a readable zip archive ({exc})")
        for thread in self.threads.values():
            if not any(m.text.strip() for m in thread.messages):
                continue
            yield DocRef(
                external_id=thread.external_id,
                version=thread.version(),
                path=thread.path,
                title=thread.title(),
                link=thread.link,
            )
        for item in self.broken.values():
            yield DocRef(external_id=item.external_id, version=item.version, path=item.path)
        if self.broken:
            # Nothing is lost to a broken upload: what was indexed stays until a clean read.
            for doc in self.source.documents.all():
                if doc.external_id not in self.threads and doc.external_id not in self.broken:
                    yield DocRef(
                        external_id=doc.external_id,
                        version=doc.version,
                        path=doc.path,
                        title=doc.title,
                        link=doc.link,
                    )

    def _read_zip(self, path: Path) -> None:
        archive = Archive(path)
        try:
            for name in archive.members:
                # Never extracted, but a planted name is worth telling the admin about.
                if problem := _member_problem(name):
                    where = f"{archive.label}/{name}"
                    self._broken(f"!{where}", where, f"{where}: {problem}; not read")
            names = {n for n in archive.members if not _member_problem(n)}
            jsonl = sorted(n for n in names if n.endswith(".jsonl") and "/" not in n.strip("/"))
            if "channels.json" in names or "users.json" in names:
                self._read_slack(archive)
            elif jsonl:
                for name in jsonl:
                    data = self._member(archive, name)
                    if data is not None:
                        self._read_mattermost(_Lines(data), f"{archive.label}/{name}")
            else:
                raise Unreadable(
                    f"{archive.label}: neither a Slack export (no channels.json) nor a "
                    "Mattermost bulk export (no .jsonl file at the top)"
                )
        finally:
            archive.close()

    def _member(self, archive: Archive, name: str) -> bytes | None:
        try:
            return archive.read(name)
        except Unreadable as exc:
            self._broken(f"!{archive.label}/{name}", f"{archive.label}/{name}", str(exc))
            if "KNOWLEDGE_MAX_ARCHIVE_MB" in str(exc):
                raise
            return None

    # --- Slack ---------------------------------------------------------------------------
    def _read_slack(self, archive: Archive) -> None:
        users: dict[str, dict[str, Any]] = {}
        listed: Any = []
        if "users.json" in archive.members:
            data = self._member(archive, "users.json")
            where = f"{archive.label}/users.json"
            try:
                listed = _json(data, where) if data is not None else []
            except Unreadable as exc:  # messages are still read, authors shown by their ids
                self._broken(f"!{where}", where, str(exc))
            for user in listed if isinstance(listed, list) else []:
                if isinstance(user, dict) and isinstance(user.get("id"), str):
                    users[user["id"]] = user
        channels: list[dict[str, Any]] = []
        # channels.json: public channels; groups.json: private ones (Business+ exports).
        for listing in ("channels.json", "groups.json"):
            if listing not in archive.members:
                continue
            data = self._member(archive, listing)
            if data is None:
                continue
            where = f"{archive.label}/{listing}"
            found = _json(data, where)
            if not isinstance(found, list):
                raise Unreadable(f"{where}: not a list of channels")
            private = listing == "groups.json"
            channels += [
                c
                for c in found
                if isinstance(c, dict) and c.get("name") and self._wanted(str(c["name"]), private)
            ]
        days: dict[str, list[str]] = {}
        for name in archive.members:
            folder, _, file = name.rpartition("/")
            if _DAY.match(file):
                days.setdefault(folder, []).append(name)
        for channel in channels:
            cname = str(channel["name"])
            for name in sorted(days.get(cname, [])):
                self._read_slack_day(archive, name, channel, users)

    def _read_slack_day(
        self, archive: Archive, name: str, channel: dict[str, Any], users: dict[str, Any]
    ) -> None:
        where = f"{archive.label}/{name}"
        data = self._member(archive, name)
        if data is None:
            return
        try:
            messages = _json(data, where)
            if not isinstance(messages, list):
                raise Unreadable(f"{where}: not a list of messages")
        except Unreadable as exc:
            self._broken(f"!{where}", where, str(exc))
            return
        cid = str(channel.get("id") or channel["name"])
        for n, msg in enumerate(messages, start=1):
            if not isinstance(msg, dict) or not isinstance(msg.get("ts"), str):
                self._broken(f"!{where}#{n}", where, f"{where}: message {n} has no `ts`")
                continue
            if str(msg.get("subtype") or "") not in SLACK_KEPT or msg.get("bot_id"):
                continue
            user = users.get(str(msg.get("user", ""))) or {}
            if user.get("is_bot"):
                continue
            try:
                at = float(msg["ts"])
                edited = float((msg.get("edited") or {}).get("ts") or 0)
            except (TypeError, ValueError, AttributeError):
                self._broken(f"!{where}#{n}", where, f"{where}: message {n} has a bad `ts`")
                continue
            root = str(msg.get("thread_ts") or msg["ts"])
            link = f"{self.url}/archives/{cid}/p{root.replace('.', '')}" if self.url else ""
            thread = self._thread(
                f"slack/{cid}/{root}", f"#{channel['name']}", f"#{channel['name']}/{root}", link
            )
            thread.add(Message(_slack_author(msg, user), at, _slack_text(msg, users), edited))

    # --- Mattermost bulk export ----------------------------------------------------------
    def _read_mattermost(self, lines: Any, label: str) -> None:
        limit = max_bytes()
        number = 0
        while True:
            line = lines.readline(limit + 1)
            if not line:
                return
            number += 1
            if len(line) > limit:
                raise Unreadable(
                    f"{label} line {number}: longer than {settings.KNOWLEDGE_MAX_FILE_MB} MB"
                )
            if not line.strip():
                continue
            try:
                try:
                    item = json.loads(line.rstrip(b"\r\n").decode("utf-8-sig"))
                except UnicodeDecodeError as exc:
                    raise Unreadable(
                        f"{label} line {number}: not UTF-8 (byte {exc.start})"
                    ) from None
                except json.JSONDecodeError as exc:
                    raise Unreadable(
                        f"{label} line {number} column {exc.colno}: {exc.msg}"
                    ) from None
                if not isinstance(item, dict):
                    raise Unreadable(f"{label} line {number}: not a JSON object")
                if item.get("type") == "user" and isinstance(item.get("user"), dict):
                    self._mattermost_user(item["user"])
                elif item.get("type") == "channel" and isinstance(item.get("channel"), dict):
                    channel = item["channel"]
                    key = (str(channel.get("team") or ""), str(channel.get("name") or ""))
                    self.mm_private[key] = channel.get("type") != "O"
                elif item.get("type") == "post":
                    self._mattermost_post(item.get("post"), f"{label} line {number}")
            except Unreadable as exc:
                self._broken(f"!{label}:{number}", label, str(exc))

    def _mattermost_user(self, user: dict[str, Any]) -> None:
        """Users come before posts in a bulk export: their names are shown with @username."""
        username = str(user.get("username") or "")
        full = f"{user.get('first_name') or ''} {user.get('last_name') or ''}".strip()
        name = full or str(user.get("nickname") or "").strip()
        if username and name:
            self.mm_names[username] = f"{name} (@{username})"

    def _mattermost_post(self, post: Any, where: str) -> None:
        if not isinstance(post, dict):
            raise Unreadable(f"{where}: `post` is not an object")
        team, channel = str(post.get("team") or ""), str(post.get("channel") or "")
        if not team or not channel or not isinstance(post.get("create_at"), int):
            raise Unreadable(f"{where}: a post needs team, channel and create_at")
        # A channel the export did not describe (no `channel` line) counts as private.
        if not self._wanted(channel, self.mm_private.get((team, channel), True)):
            return
        root = f"{post['create_at']}:{post.get('user', '')}"
        link = f"{self.url}/{team}/channels/{channel}" if self.url else ""
        thread = self._thread(
            f"mm/{team}/{channel}/{root}", f"~{channel}", f"{team}/~{channel}/{root}", link
        )
        replies = post.get("replies") or []
        for item in [post, *(replies if isinstance(replies, list) else [])]:
            if not isinstance(item, dict) or not _mm_human(item):
                continue
            at = item.get("create_at")
            if not isinstance(at, int):
                continue
            edited = item.get("edit_at") if isinstance(item.get("edit_at"), int) else 0
            user = str(item.get("user") or "?")
            text = str(item.get("message") or "")
            author = self.mm_names.get(user, f"@{user}")
            thread.add(Message(author, at / 1000, text, (edited or 0) / 1000))

    # --- one thread ----------------------------------------------------------------------
    def fetch(self, ref: DocRef) -> Fetched:
        if ref.external_id in self.broken:
            raise FetchError(self.broken[ref.external_id].error)
        thread = self.threads.get(ref.external_id)
        if thread is None:
            raise FetchError("the thread is in no uploaded export any more")
        return Fetched(
            data=render(thread),
            name="thread.html",
            content_type="text/html",
            title=thread.title(),
            link=thread.link,
        )


class _Lines:
    """Bytes read line by line like a file (a .jsonl member already read within limits)."""

    def __init__(self, data: bytes):
        self.data = data
        self.pos = 0

    def readline(self, limit: int) -> bytes:
        end = self.data.find(b"\n", self.pos)
        end = len(self.data) if end < 0 else end + 1
        end = min(end, self.pos + limit)
        line = self.data[self.pos : end]
        self.pos = end
        return line


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _mm_human(post: dict[str, Any]) -> bool:
    props = _obj(post.get("props"))
    if str(post.get("type") or ""):
        return False  # system_join_channel and other system posts
    return not any(str(props.get(k, "")).lower() == "true" for k in ("from_bot", "from_webhook"))


def _slack_author(msg: dict[str, Any], user: dict[str, Any]) -> str:
    profile = _obj(user.get("profile")) or _obj(msg.get("user_profile"))
    name = str(profile.get("real_name") or user.get("real_name") or "").strip()
    handle = str(user.get("name") or profile.get("name") or msg.get("user") or "?")
    return f"{name} (@{handle})" if name else f"@{handle}"


def _slack_text(msg: dict[str, Any], users: dict[str, Any]) -> str:
    """Slack's mrkdwn references made readable: <@U1> -> @name, <#C1|ops> -> #ops."""

    def ref(m: re.Match[str]) -> str:
        sigil, target, label = m.group(1), m.group(2), m.group(3)
        if sigil == "@":
            user = users.get(target) or {}
            return f"@{user.get('name') or label or target}"
        if sigil == "#":
            return f"#{label or target}"
        if sigil == "!":
            return f"@{label or target}"
        return f"{label} ({target})" if label and label != target else target

    return html.unescape(_SLACK_REF.sub(ref, str(msg.get("text") or "")))
