"""One file of an indexed Git source, at a branch, tag or commit: `read_file(user, ...)`.

Ops teams keep their nginx, collector and Ansible files in the repositories the portal
already indexes (connectors/git.py keeps a bare repository of each in var/git/<source id>).
A scenario reviews such a file at the ref a person names, so the ref and the path are
hostile input that reaches git's command line. On top of gitrun.py's rules for every git
call (cleared environment, allowed transports only, no hooks):
- the user must be allowed to read the source (the same rule as search);
- a ref is a commit SHA or a branch/tag name that `git check-ref-format` accepts (never an
  option, never a revision expression like `HEAD@{1}` or `a..b`);
- a branch or tag is fetched from the source's own URL into refs/opsdesk/review/, never
  into FETCH_HEAD, which marks the commit the indexer read;
- the file is read from git's objects (`git cat-file`), so `..` and absolute paths cannot
  reach another file on the server, and a committed symbolic link is refused, not followed;
- its size is checked before it is read, and binary content is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from django.utils.translation import gettext as _

from apps.knowledge.ingest.connectors import ConnectorError, gitrun
from apps.knowledge.ingest.connectors.git import SYMLINK_MODE, GitConnector, parse_tree
from apps.knowledge.models import Source
from apps.knowledge.search.retrieval import readable_source_ids

# Reading a file is interactive: a remote that does not answer in this time is reported.
FETCH_TIMEOUT = 30
LOCAL_TIMEOUT = 10
MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_LISTED = 5000
_SHA = re.compile(r"[0-9a-fA-F]{7,40}")
_REF_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/+-]{0,199}")
REVIEW_REFS = "refs/opsdesk/review/"


class GitFileError(ValueError):
    """The file cannot be read: `field` is "source", "ref" or "path", the message says why."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass(frozen=True)
class GitFile:
    source_id: int
    source: str  # the source's name
    ref: str  # as asked ("" for the indexed commit)
    commit: str  # the full SHA the file was read at
    path: str
    text: str
    link: str  # the file at that commit in the repository's web view, or ""


def git_sources(user: Any) -> list[Source]:
    """The Git sources the user may read, by name."""
    readable = readable_source_ids(user)
    return list(Source.objects.filter(pk__in=readable, type=Source.Type.GIT).order_by("name"))


def _source(user: Any, source_id: int | str | None) -> Source:
    try:
        pk = int(source_id or 0)
    except (TypeError, ValueError):
        pk = 0
    source = Source.objects.filter(pk=pk, type=Source.Type.GIT).first() if pk else None
    # An unknown source and one the user may not read get the same answer.
    if source is None or source.pk not in readable_source_ids(user):
        raise GitFileError(_("Choose one of the Git sources you may read."), "source")
    return source


def check_ref(ref: str) -> str:
    """The ref as given if it is a SHA or a plain branch/tag name, else GitFileError."""
    ref = (ref or "").strip()
    if not ref or _SHA.fullmatch(ref):
        return ref
    # Stricter than git (no '@', '{', '^', ':', '~'), then git's own rules as well.
    plain = _REF_NAME.fullmatch(ref) and ".." not in ref and not ref.endswith(("/", ".lock"))
    if not plain or gitrun.check_ref(ref):
        raise GitFileError(
            _("%(ref)s is not a branch, tag or commit name.") % {"ref": ref[:80]}, "ref"
        )
    return ref


def check_path(path: str) -> str:
    """A plain relative path inside the repository, else GitFileError."""
    path = (path or "").strip()
    while path.startswith("./"):
        path = path[2:]
    pure = PurePosixPath(path)
    bad = (
        not path
        or len(path) > 500
        or path.startswith(("/", "-"))
        or any(c in path for c in "\x00\n\r")
        or any(part in ("..", ".git") for part in pure.parts)
    )
    if bad:
        raise GitFileError(
            _("Give a file path inside the repository, like nginx/site.conf."), "path"
        )
    return str(pure)


class _Repo:
    """The source's bare repository, driven through the connector's own git (token, config)."""

    def __init__(self, source: Source) -> None:
        from apps.knowledge import crypto

        self.source = source
        self.connector = GitConnector(source, crypto.decrypt(source.secrets_encrypted))
        if not (self.connector.checkout() / "HEAD").is_file():
            raise GitFileError(
                _("The Git source %(name)s has not been synced yet; sync it in the console.")
                % {"name": source.name},
                "source",
            )

    def git(self, *args: str, timeout: int = LOCAL_TIMEOUT) -> str:
        return self.connector.git(*args, timeout=timeout).decode("utf-8", "replace")

    def commit_of(self, rev: str) -> str | None:
        try:
            out = self.git(
                "rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}"
            )
        except ConnectorError:
            return None
        return out.strip() or None

    def resolve(self, ref: str) -> str:
        if not ref:
            # FETCH_HEAD is what the last sync fetched and indexed.
            commit = self.commit_of("FETCH_HEAD")
            if commit is None:
                raise GitFileError(_("The source has no indexed commit yet."), "ref")
            return commit
        if _SHA.fullmatch(ref):
            commit = self.commit_of(ref)
            if commit is None and len(ref) == 40:
                self._fetch(ref.lower(), None)
                commit = self.commit_of(ref)
            if commit is None:
                raise GitFileError(
                    _("Commit %(ref)s is not in the repository (give the full 40-character SHA).")
                    % {"ref": ref},
                    "ref",
                )
            return commit
        # A branch or tag: the remote's current tip, kept under our own ref name.
        local = REVIEW_REFS + ref
        self._fetch(ref, local)
        commit = self.commit_of(local)
        if commit is None:
            raise GitFileError(_("No branch or tag %(ref)s.") % {"ref": ref}, "ref")
        return commit

    def _fetch(self, ref: str, into: str | None) -> None:
        try:
            url, _branch = self.connector.remote()
        except ConnectorError as exc:
            raise GitFileError(str(exc), "source") from None
        spec = f"+{ref}:{into}" if into else ref
        args = ["fetch", "--quiet", "--no-write-fetch-head", "--depth=1", "--no-tags"]
        try:
            self.git(*args, "--no-recurse-submodules", "--", url, spec, timeout=FETCH_TIMEOUT)
        except ConnectorError as exc:
            detail = str(exc)
            if "couldn't find remote ref" in detail or "not our ref" in detail:
                raise GitFileError(
                    _("No branch, tag or commit %(ref)s in the repository.") % {"ref": ref},
                    "ref",
                ) from None
            raise GitFileError(
                _("The repository could not be reached: %(error)s") % {"error": detail}, "ref"
            ) from None

    def read(self, commit: str, path: str) -> str:
        try:
            listing = self.connector.git(
                "--literal-pathspecs", "ls-tree", "-z", "--long", "--full-tree", commit, "--", path
            )
        except ConnectorError:
            listing = b""
        entry = next((e for e in parse_tree(listing) if e.path == path), None)
        if entry is None:
            if listing:
                raise GitFileError(
                    _("%(path)s is a directory, not a file.") % {"path": path}, "path"
                )
            raise GitFileError(
                _("There is no file %(path)s at %(commit)s.")
                % {"path": path, "commit": commit[:12]},
                "path",
            )
        if entry.mode == SYMLINK_MODE:
            raise GitFileError(
                _("%(path)s is a symbolic link; links in a repository are not followed.")
                % {"path": path},
                "path",
            )
        if entry.size > MAX_FILE_BYTES:
            raise GitFileError(
                _("%(path)s is %(mb).1f MB; at most %(max)d MB is read.")
                % {"path": path, "mb": entry.size / 1048576, "max": MAX_FILE_BYTES // 1048576},
                "path",
            )
        data = self.connector.git("cat-file", "blob", entry.sha)
        if b"\x00" in data:
            raise GitFileError(_("%(path)s is a binary file.") % {"path": path}, "path")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise GitFileError(_("%(path)s is not UTF-8 text.") % {"path": path}, "path") from None


def read_file(user: Any, source_id: int | str | None, ref: str, path: str) -> GitFile:
    """The text of `path` at `ref` ("" = the commit last indexed) of a Git source the user
    may read. Raises GitFileError naming the field that is wrong."""
    source = _source(user, source_id)
    ref = check_ref(ref)
    path = check_path(path)
    repo = _Repo(source)
    commit = repo.resolve(ref)
    text = repo.read(commit, path)
    return GitFile(
        source_id=source.pk,
        source=source.name,
        ref=ref,
        commit=commit,
        path=path,
        text=text,
        link=repo.connector.link(commit, path),
    )


def list_files(user: Any, source_id: int | str | None) -> list[str]:
    """Paths of the files at the commit last indexed (for a picker), at most MAX_LISTED."""
    repo = _Repo(_source(user, source_id))
    try:
        out = repo.git("ls-tree", "-r", "-z", "--name-only", "--full-tree", "FETCH_HEAD")
    except ConnectorError:
        return []
    return [p for p in out.split("\0") if p][:MAX_LISTED]
