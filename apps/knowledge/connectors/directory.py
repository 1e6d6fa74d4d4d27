"""A directory tree on the server; uploaded files are a directory the portal owns."""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings

from apps.knowledge import parsing
from apps.knowledge.connectors import (
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


def root_of(source: object) -> Path:
    from apps.knowledge.models import Source

    assert isinstance(source, Source)
    if source.type == Source.Type.UPLOAD:
        return upload_dir(source.pk)
    return Path(str((source.settings or {}).get("path", ""))).expanduser()


class DirectoryConnector(Connector):
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

    def list_documents(self) -> Iterator[DocRef]:
        root = self.root().resolve()
        if not root.is_dir():
            raise ConnectorError(f"{root} is not a readable directory on the server")
        include = list(self.settings.get("include") or [])
        exclude = list(self.settings.get("exclude") or [])
        nested = self._nested_roots(root)
        for dirpath, dirnames, filenames in os.walk(root):
            here = Path(dirpath)
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
                    stat = full.stat()
                except OSError:
                    continue
                yield DocRef(
                    external_id=rel,
                    version=f"{stat.st_mtime_ns}:{stat.st_size}",
                    path=rel,
                    size=stat.st_size,
                )

    def fetch(self, ref: DocRef) -> Fetched:
        full = self.root() / ref.external_id
        try:
            size = full.stat().st_size
            if size > max_bytes():
                raise too_big(size)  # checked before reading: a huge file never enters memory
            data = full.read_bytes()
        except OSError as exc:
            raise FetchError(f"cannot read the file: {exc.strerror or exc}") from None
        return Fetched(data=data, name=full.name)
