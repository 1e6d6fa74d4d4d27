"""A directory tree on the server; uploaded files are a directory the portal owns.

Only files inside the source's directory are read. A symbolic link is followed only when
its target is a regular file inside the same directory and not inside a nested source's
directory (whose files belong to that source and its groups); any other link is listed
with an error, never read. The check is made on the file actually opened (its path from
/proc/self/fd), so a file swapped for a link between listing and reading is refused too.
"""

from __future__ import annotations

import fnmatch
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.utils.translation import gettext as _

from apps.knowledge.ingest import parsing
from apps.knowledge.ingest.connectors import (
    Connector,
    ConnectorError,
    DocRef,
    Fetched,
    FetchError,
    max_bytes,
    too_big,
)


def upload_dir(source_id: int) -> Path:
    return Path(settings.VAR_DIR) / "uploads" / str(source_id)


def root_refusal(path: Path) -> str | None:
    """Why a directory source (or local Git repository) may not read `path`, or None: it
    must lie under a directory of KNOWLEDGE_DIRECTORY_ROOTS (symlinks resolved first)."""
    resolved = path.expanduser().resolve()
    roots = settings.KNOWLEDGE_DIRECTORY_ROOTS
    if any(resolved.is_relative_to(root) for root in roots):
        return None
    return _(
        "%(path)s is outside the directories sources may read (KNOWLEDGE_DIRECTORY_ROOTS: "
        "%(roots)s)."
    ) % {"path": resolved, "roots": ", ".join(str(r) for r in roots) or "—"}


def root_of(source: object) -> Path:
    from apps.knowledge.models import Source

    assert isinstance(source, Source)
    if source.type == Source.Type.UPLOAD:
        return upload_dir(source.pk)
    return Path(str((source.settings or {}).get("path", ""))).expanduser()


class DirectoryConnector(Connector):
    _nested_cache: list[Path] | None = None

    def root(self) -> Path:
        return root_of(self.source)

    def _nested_roots(self, root: Path) -> list[Path]:
        """Roots of other directory sources inside this one: their files belong to them
        (e.g. an sre-only folder indexed as its own source with its own groups)."""
        from apps.knowledge.models import Source

        nested = []
        others = Source.objects.filter(type=Source.Type.DIRECTORY).exclude(pk=self.source.pk)
        for other in others:
            other_root = root_of(other).resolve()
            if other_root != root and other_root.is_relative_to(root):
                nested.append(other_root)
        return nested

    def _nested(self, root: Path) -> list[Path]:
        if self._nested_cache is None:
            self._nested_cache = self._nested_roots(root)
        return self._nested_cache

    def list_documents(self) -> Iterator[DocRef]:
        root = self.root().resolve()
        if self.source.type != "upload" and (problem := root_refusal(root)):
            raise ConnectorError(problem)
        if not root.is_dir():
            raise ConnectorError(f"{root} is not a readable directory on the server")
        include = list(self.settings.get("include") or [])
        exclude = list(self.settings.get("exclude") or [])
        nested = self._nested(root)
        for dirpath, dirnames, filenames in os.walk(root):
            here = Path(dirpath)
            # os.walk lists a linked directory but does not descend into it.
            dirnames[:] = sorted(
                d for d in dirnames if not d.startswith(".") and (here / d).resolve() not in nested
            )
            for filename in sorted(filenames):
                if filename.startswith("."):
                    continue
                full = here / filename
                rel = full.relative_to(root).as_posix()
                if include and not any(fnmatch.fnmatch(rel, g) for g in include):
                    continue
                if any(fnmatch.fnmatch(rel, g) for g in exclude):
                    continue
                if not parsing.supported(filename) and self.source.type != "upload":
                    continue
                try:
                    info = full.lstat()
                    if stat.S_ISLNK(info.st_mode):
                        # A link's version follows its target, so a changed target re-reads.
                        target = full.stat()
                        info = target if self._inside(full.resolve(), root, nested) else info
                except OSError:
                    pass  # a dangling link: listed, and fetch() says why it is not read
                yield DocRef(
                    external_id=rel,
                    version=f"{info.st_mtime_ns}:{info.st_size}",
                    path=rel,
                    size=info.st_size,
                )

    @staticmethod
    def _inside(path: Path, root: Path, nested: list[Path]) -> bool:
        return path.is_relative_to(root) and not any(path.is_relative_to(n) for n in nested)

    def _open(self, ref: DocRef) -> int:
        """A descriptor of the document's file, after checking what was really opened."""
        root = self.root().resolve()
        full = root / ref.external_id
        # O_NONBLOCK: a FIFO planted in the tree must not hang the job on open().
        fd = os.open(full, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            try:
                opened = Path(os.readlink(f"/proc/self/fd/{fd}"))
            except FileNotFoundError:  # no /proc: the path as resolved just now
                opened = full.resolve()
            if not self._inside(opened, root, self._nested(root)):
                what = "a symbolic link" if full.is_symlink() else "a path"
                raise FetchError(
                    f"{what} leading outside the source's directory (or into another "
                    "source's directory): not read"
                )
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise FetchError("not a regular file: not read")
        except BaseException:
            os.close(fd)
            raise
        return fd

    def fetch(self, ref: DocRef) -> Fetched:
        try:
            fd = self._open(ref)
        except OSError as exc:
            raise FetchError(f"cannot read the file: {exc.strerror or exc}") from None
        with os.fdopen(fd, "rb") as handle:
            try:
                size = os.fstat(fd).st_size
                if size > max_bytes():
                    raise too_big(size)  # checked before reading: a huge file never enters memory
                data = handle.read(max_bytes() + 1)
            except OSError as exc:
                raise FetchError(f"cannot read the file: {exc.strerror or exc}") from None
        if len(data) > max_bytes():
            raise too_big(len(data))  # grew while being read
        return Fetched(data=data, name=Path(ref.external_id).name)
