"""Connectors: each lists a source's documents (stable id + version) and fetches one.

The indexer only talks to this interface, so a new kind of source is one small class.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings

if TYPE_CHECKING:
    from apps.knowledge.models import Source


class ConnectorError(Exception):
    """The source as a whole cannot be read (bad path, unreachable server, bad credentials)."""


class FetchError(Exception):
    """One document cannot be fetched; the job records it and goes on."""


@dataclass
class DocRef:
    external_id: str  # stable across syncs: a relative path, a page id, a URL
    version: str  # changes when the document changes: mtime+size, commit SHA, page version
    path: str = ""
    title: str = ""
    link: str = ""
    size: int = 0


@dataclass
class Fetched:
    data: bytes
    name: str  # a file name whose extension picks the parser
    content_type: str = ""
    title: str = ""
    link: str = ""


class Connector(ABC):
    """One kind of source: lists its documents with stable ids and versions, fetches one."""

    def __init__(self, source: Source, secrets: dict[str, str] | None = None):
        self.source = source
        self.settings = source.settings or {}
        self.secrets = secrets or {}
        # A rebuild: list everything from the source, not only what changed since the
        # last sync (incremental connectors).
        self.full = False

    @abstractmethod
    def list_documents(self) -> Iterator[DocRef]: ...

    @abstractmethod
    def fetch(self, ref: DocRef) -> Fetched: ...

    def close(self) -> None:  # noqa: B027 (optional hook)
        pass

    def sync_state(self) -> dict[str, Any] | None:
        """What the next sync resumes from (a cursor, a page token), saved on the source
        only when this sync finished; None keeps what is stored."""
        return None


def max_bytes() -> int:
    return settings.KNOWLEDGE_MAX_FILE_MB * 1024 * 1024


def too_big(size: int) -> FetchError:
    return FetchError(
        f"the file is {size / 1024 / 1024:.0f} MB, over the limit of "
        f"{settings.KNOWLEDGE_MAX_FILE_MB} MB (KNOWLEDGE_MAX_FILE_MB); it was not read"
    )


def get_connector(source: Source) -> Connector:
    from apps.knowledge import crypto
    from apps.knowledge.models import Source as SourceModel

    secrets = crypto.decrypt(source.secrets_encrypted)
    kind = source.type
    if kind in (SourceModel.Type.DIRECTORY, SourceModel.Type.UPLOAD):
        from apps.knowledge.ingest.connectors.directory import DirectoryConnector

        return DirectoryConnector(source, secrets)
    if kind == SourceModel.Type.GIT:
        from apps.knowledge.ingest.connectors.git import GitConnector

        return GitConnector(source, secrets)
    if kind == SourceModel.Type.WEB:
        from apps.knowledge.ingest.connectors.web import WebConnector

        return WebConnector(source, secrets)
    if kind == SourceModel.Type.CONFLUENCE:
        from apps.knowledge.ingest.connectors.confluence import ConfluenceConnector

        return ConfluenceConnector(source, secrets)
    if kind == SourceModel.Type.MATTERMOST:
        from apps.knowledge.ingest.connectors.mattermost import MattermostConnector

        return MattermostConnector(source, secrets)
    if kind == SourceModel.Type.CHAT_EXPORT:
        from apps.knowledge.ingest.connectors.chatexport import ChatExportConnector

        return ChatExportConnector(source, secrets)
    if kind == SourceModel.Type.GDRIVE:
        from apps.knowledge.ingest.connectors.gdrive import GoogleDriveConnector

        return GoogleDriveConnector(source, secrets)
    raise ConnectorError(f"unknown source type {kind!r}")
