"""A Git repository, fetched with the git CLI into a bare repository at var/git/<source id>.

Settings: url (a remote URL or a local path), branch, include/exclude globs, web_url (a link
template such as https://git.example/ops/runbooks/-/blob/{commit}/{path}). A token, if set,
goes to git as an HTTP Authorization header through the environment, never on the command
line. The document version is the commit SHA; links point at the file at that commit.

Files are read from git's objects, never from a checked-out tree: a symbolic link committed
to the repository (to /etc/os-release, to the portal's secret key) is a blob holding a path,
and is refused, not followed. How git itself is run safely is in gitrun.py.
"""

from __future__ import annotations

import fnmatch
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit

from django.conf import settings

from apps.knowledge.ingest import parsing
from apps.knowledge.ingest.connectors import (
    Connector,
    ConnectorError,
    DocRef,
    Fetched,
    FetchError,
    gitrun,
    max_bytes,
    netguard,
    too_big,
)

_SHA = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")
REGULAR_MODES = {"100644", "100755"}
SYMLINK_MODE = "120000"
URL_MARKER = "opsdesk-url"  # which URL the objects in the bare repository came from


def checkout_dir(source_id: int) -> Path:
    return Path(settings.VAR_DIR) / "git" / str(source_id)


def remove_checkouts(source_id: int) -> None:
    """Remove the source's repository copy, and any left behind by a Git source deleted
    before copies were removed with their source."""
    from apps.knowledge.models import Source

    shutil.rmtree(checkout_dir(source_id), ignore_errors=True)
    base = Path(settings.VAR_DIR) / "git"
    live = {
        str(pk) for pk in Source.objects.filter(type=Source.Type.GIT).values_list("pk", flat=True)
    }
    for child in base.iterdir() if base.is_dir() else []:
        if child.name.isdigit() and child.name not in live:
            shutil.rmtree(child, ignore_errors=True)


@dataclass(frozen=True)
class TreeEntry:
    mode: str
    sha: str
    size: int
    path: str


def parse_tree(listing: bytes) -> Iterator[TreeEntry]:
    """`git ls-tree -r -z --long` output: '<mode> <type> <sha> <size>\\t<path>' records."""
    for record in listing.split(b"\0"):
        if not record:
            continue
        meta, _, raw_path = record.partition(b"\t")
        fields = meta.split()
        if len(fields) != 4 or fields[1] != b"blob":
            continue  # submodules (commit entries) are not content of this repository
        mode, _kind, sha, size = (f.decode() for f in fields)
        path = raw_path.decode(errors="replace")
        if _SHA.match(sha) and size.isdigit():
            yield TreeEntry(mode, sha, int(size), path)


class GitConnector(Connector):
    commit: str = ""
    blobs: dict[str, TreeEntry]

    def checkout(self) -> Path:
        return checkout_dir(self.source.pk)

    def _git(self, *args: str) -> bytes:
        return self.git(*args)

    def git(self, *args: str, timeout: int = gitrun.GIT_TIMEOUT) -> bytes:
        """git on this source's bare repository, its token in the config (masked in errors).
        Also used to read a file at another ref (gitfiles.py). A fetch goes to the source's
        URL only, with its server's checked address pinned (_pinned)."""
        config = self._pinned(self.remote()[0]) if "fetch" in args else []
        token = self.secrets.get("token", "")
        if token:
            config.append(("http.extraHeader", f"Authorization: Bearer {token}"))
        work = self.checkout()
        return gitrun.run(
            [f"--git-dir={work}", *args],
            cwd=work.parent,
            config=config,
            secret=token,
            timeout=timeout,
        )

    def remote(self) -> tuple[str, str]:
        """The source's URL and branch, refused here if git could misread them."""
        url = str(self.settings.get("url", "")).strip()
        branch = str(self.settings.get("branch", "")).strip()
        # Checked here too, not only in the form: a source saved by the CLI, by an older
        # version or straight into the database reaches git only through these checks.
        problem = gitrun.check_url(url) or gitrun.check_ref(branch)
        if problem:
            raise ConnectorError(problem)
        return url, branch

    def _update(self) -> str:
        url, branch = self.remote()
        work = self.checkout()
        marker = work / URL_MARKER
        fresh = (work / "HEAD").is_file() and marker.is_file() and marker.read_text() == url
        if not fresh:
            # A new URL, or a checkout left by an older version (a work tree that may hold
            # followed symlinks): start from an empty bare repository.
            shutil.rmtree(work, ignore_errors=True)
            work.mkdir(parents=True)
            self._git("init", "--quiet", "--bare")
            marker.write_text(url)
        self._git(
            "fetch",
            "--quiet",
            "--depth=1",
            "--no-tags",
            "--no-recurse-submodules",
            "--",
            url,
            branch or "HEAD",
        )
        commit = self._git("rev-parse", "--verify", "--quiet", "FETCH_HEAD^{commit}")
        sha = commit.decode().strip()
        if not _SHA.match(sha):
            raise ConnectorError("git fetch gave no commit")
        return sha

    @staticmethod
    def _pinned(url: str) -> list[tuple[str, str]]:
        """The server's address, checked (netguard) and handed to git's HTTP client, so git
        connects to the address that was checked; ssh resolves the name itself, checked
        here just before."""
        server = gitrun.host_and_port(url)
        if server is None:
            return []
        host, port = server
        try:
            addresses = netguard.checked_addresses(host, port)
        except OSError as exc:
            raise ConnectorError(str(exc)) from None
        if gitrun.protocol_of(url) not in ("http", "https"):
            return []
        listed = ",".join(f"[{a}]" if ":" in a else a for a in addresses)
        return [("http.curloptResolve", f"{host}:{port}:{listed}")]

    def link(self, commit: str, path: str) -> str:
        template = str(self.settings.get("web_url", "")).strip()
        if template:
            # Plain replacement, not str.format: a template is admin input, and format
            # fields can reach attributes of the values.
            link = template.replace("{commit}", commit).replace("{path}", quote(path))
            return link if urlsplit(link).scheme in ("http", "https") else ""
        url = str(self.settings.get("url", "")).strip()
        if url.startswith(("https://", "http://")):
            return f"{url.removesuffix('.git').rstrip('/')}/blob/{commit}/{quote(path)}"
        return ""  # a local path has no web view

    def list_documents(self) -> Iterator[DocRef]:
        self.commit = self._update()
        include = list(self.settings.get("include") or [])
        exclude = list(self.settings.get("exclude") or [])
        listing = self._git("ls-tree", "-r", "-z", "--long", "--full-tree", self.commit)
        self.blobs = {}
        for entry in sorted(parse_tree(listing), key=lambda e: e.path):
            rel = entry.path
            if include and not any(fnmatch.fnmatch(rel, g) for g in include):
                continue
            if any(fnmatch.fnmatch(rel, g) for g in exclude) or not parsing.supported(rel):
                continue
            if entry.mode not in REGULAR_MODES and entry.mode != SYMLINK_MODE:
                continue
            self.blobs[rel] = entry
            yield DocRef(
                external_id=rel,
                version=self.commit,
                path=rel,
                link=self.link(self.commit, rel),
                size=entry.size,
            )

    def fetch(self, ref: DocRef) -> Fetched:
        entry = self.blobs.get(ref.external_id)
        if entry is None:
            raise FetchError("the file is not in the fetched commit")
        if entry.mode == SYMLINK_MODE:
            # Listed, so the admin sees why it is missing instead of wondering.
            raise FetchError("a symbolic link: links in a repository are not followed")
        if entry.size > max_bytes():
            raise too_big(entry.size)
        data = self._git("cat-file", "blob", entry.sha)
        return Fetched(data=data, name=Path(ref.external_id).name, link=ref.link)
