"""Google Drive folders and shared drives through the Drive API v3, as a service account.

Settings: folder (a folder id: it and its subfolders) or drive (a shared drive id: all of
it), subject (optional: a user to act for, with domain-wide delegation), api_url (default
https://www.googleapis.com; a Private Service Connect endpoint otherwise); secrets:
service_account_key (the JSON key file, stored encrypted like every source secret).

Sign-in is OAuth 2.0's JWT bearer grant (RFC 7523): a JWT signed RS256 with the key's
private key (`cryptography`), exchanged at the key's token_uri for an access token with the
drive.readonly scope. Google Docs are exported as HTML (headings kept), Sheets as CSV (Drive
exports the first sheet), Slides as text; PDFs, DOCX, Markdown, text and CSV files are
downloaded (`alt=media`) and go through the usual parsers. Other files are not listed.

Document id: the file id; version: the file's `version` (Drive raises it on every change),
shown as `v<version>` in citations beside the file's link (webViewLink) and title.

Incremental: a full listing first records `changes.getStartPageToken`; each later sync
reads `changes.list` from the stored token to the new start token: changed files in scope
are fetched again, removed or trashed files and files moved out of the folder leave the
index, and everything else is listed from what the index holds. A folder moved into or
out of the tree, or a token the API no longer accepts, falls back to a full listing, as
does a rebuild. The new token is stored only when the sync finishes.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlsplit

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
from apps.knowledge.ingest.connectors.httpjson import JsonApi, expect

SCOPE = "https://www.googleapis.com/auth/drive.readonly"
DEFAULT_API = "https://www.googleapis.com"
FOLDER = "application/vnd.google-apps.folder"
# Google's own formats and what they are exported as: (MIME type, file name suffix).
EXPORTS = {
    "application/vnd.google-apps.document": ("text/html", ".html"),
    "application/vnd.google-apps.spreadsheet": ("text/csv", ".csv"),
    "application/vnd.google-apps.presentation": ("text/plain", ".txt"),
}
# Uploaded files whose name lacks the suffix the parsers go by.
SUFFIXES = {
    "application/pdf": ".pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
    "text/markdown": ".md",
    "text/plain": ".txt",
    "text/csv": ".csv",
    "text/html": ".html",
}
FIELDS = (
    "id,name,mimeType,version,modifiedTime,size,webViewLink,parents,trashed,driveId,headRevisionId"
)
ID = re.compile(r"^[A-Za-z0-9_-]{1,200}$")  # Drive file, folder and drive ids
PAGE_SIZE = 1000
MAX_PAGES = 10_000


class KeyProblem(ValueError):
    """The service-account key cannot be used; the message says why (no key material)."""


def load_key(text: str) -> dict[str, str]:
    """The service-account key file's fields, checked: the private key must load."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    try:
        key = json.loads(text)
    except json.JSONDecodeError as exc:
        raise KeyProblem(
            _("the key is not JSON (line %(line)d column %(column)d)")
            % {"line": exc.lineno, "column": exc.colno}
        ) from None
    if not isinstance(key, dict) or key.get("type") != "service_account":
        raise KeyProblem(_('the key is not a service account key ("type": "service_account")'))
    for field in ("client_email", "private_key", "token_uri"):
        if not isinstance(key.get(field), str) or not key[field]:
            raise KeyProblem(_("the key has no %(field)s") % {"field": field})
    if urlsplit(key["token_uri"]).scheme not in ("https", "http"):
        raise KeyProblem(_("the key's token_uri is not an http(s) URL"))
    try:
        private = serialization.load_pem_private_key(key["private_key"].encode(), password=None)
    except (ValueError, TypeError):
        raise KeyProblem(_("the key's private_key is not a PEM private key")) from None
    if not isinstance(private, rsa.RSAPrivateKey):
        raise KeyProblem(_("the key's private_key is not an RSA key"))
    return {k: v for k, v in key.items() if isinstance(v, str)}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def assertion(key: dict[str, str], subject: str = "", now: float | None = None) -> str:
    """The signed JWT (RS256) a service account presents for an access token."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    issued = int(now if now is not None else time.time())
    header = {"alg": "RS256", "typ": "JWT"}
    if key.get("private_key_id"):
        header["kid"] = key["private_key_id"]
    claims: dict[str, Any] = {
        "iss": key["client_email"],
        "scope": SCOPE,
        "aud": key["token_uri"],
        "iat": issued,
        "exp": issued + 3600,
    }
    if subject:
        claims["sub"] = subject
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    private = serialization.load_pem_private_key(key["private_key"].encode(), password=None)
    assert isinstance(private, rsa.RSAPrivateKey)
    signature = private.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{_b64(signature)}"


class GoogleDriveConnector(Connector):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        base = str(self.settings.get("api_url") or DEFAULT_API).strip().rstrip("/")
        self.api = JsonApi(f"{base}/drive/v3", "Google Drive")
        self.folder = str(self.settings.get("folder", "")).strip()
        self.drive = str(self.settings.get("drive", "")).strip()
        self.token = ""
        self.token_expires = 0.0
        self.files: dict[str, dict[str, Any]] = {}
        self.state: dict[str, Any] | None = None

    def close(self) -> None:
        self.api.close()

    # --- access token --------------------------------------------------------------------
    def _auth(self, error: type[Exception] = ConnectorError) -> dict[str, str]:
        if not self.token or time.time() > self.token_expires - 60:
            try:
                key = load_key(self.secrets.get("service_account_key", ""))
            except KeyProblem as exc:
                raise error(f"Google Drive service account: {exc}") from None
            jwt = assertion(key, str(self.settings.get("subject", "")).strip())
            answer = self.api.json(
                "POST",
                key["token_uri"],
                form={
                    "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                    "assertion": jwt,
                },
                error=error,
            )
            answer = expect(answer, dict, "the access token", error)
            if not isinstance(answer.get("access_token"), str):
                raise error("Google Drive: the token endpoint gave no access_token")
            self.token = answer["access_token"]
            self.token_expires = time.time() + float(answer.get("expires_in") or 3600)
        return {"Authorization": f"Bearer {self.token}"}

    def _get(
        self, path: str, params: dict[str, Any], error: type[Exception] = ConnectorError
    ) -> Any:
        return self.api.get(path, params=params, headers=self._auth(error), error=error)

    def _drive_params(self) -> dict[str, Any]:
        params: dict[str, Any] = {"supportsAllDrives": "true", "includeItemsFromAllDrives": "true"}
        if self.drive:
            params["driveId"] = self.drive
        return params

    # --- listing -------------------------------------------------------------------------
    def _pages(self, path: str, params: dict[str, Any], key: str) -> Iterator[dict[str, Any]]:
        """Every page of a paged answer, each page's `key` list item by item."""
        token = ""
        seen: set[str] = set()
        for _page in range(MAX_PAGES):
            answer = expect(
                self._get(path, {**params, **({"pageToken": token} if token else {})}),
                dict,
                path,
            )
            items = answer.get(key) or []
            if not isinstance(items, list):
                raise ConnectorError(f"unexpected answer for {path}: `{key}` is not a list")
            yield from (i for i in items if isinstance(i, dict))
            token = str(answer.get("nextPageToken") or "")
            if not token:
                return
            if token in seen:
                raise ConnectorError(f"Google Drive {path}: the same page token came back twice")
            seen.add(token)
        raise ConnectorError(f"Google Drive {path}: more than {MAX_PAGES} pages")

    def _list_files(self, q: str) -> Iterator[dict[str, Any]]:
        params = {
            **self._drive_params(),
            "q": q,
            "fields": f"nextPageToken,incompleteSearch,files({FIELDS})",
            "pageSize": PAGE_SIZE,
            "corpora": "drive" if self.drive else "allDrives",
        }
        yield from self._pages("/files", params, "files")

    def _full(self) -> tuple[dict[str, dict[str, Any]], list[str]]:
        """Every file in scope, and the folders of the tree (for a folder source)."""
        files: dict[str, dict[str, Any]] = {}
        folders: list[str] = []
        if self.drive:
            for item in self._list_files("trashed = false"):
                if item.get("mimeType") != FOLDER:
                    files[str(item.get("id"))] = item
            return files, folders
        queue = [self.folder]
        while queue:
            current = queue.pop()
            folders.append(current)
            for item in self._list_files(f"'{current}' in parents and trashed = false"):
                if item.get("mimeType") == FOLDER:
                    child = str(item.get("id") or "")
                    if ID.match(child) and child not in folders and child not in queue:
                        queue.append(child)
                else:
                    files[str(item.get("id"))] = item
        return files, folders

    def _changes(self, token: str, folders: set[str]) -> tuple[dict[str, Any], set[str]] | None:
        """Files changed in scope and file ids gone since `token`; None: list everything."""
        params = {
            **self._drive_params(),
            "pageToken": token,
            "fields": f"nextPageToken,newStartPageToken,changes(changeType,removed,fileId,file({FIELDS}))",
            "pageSize": PAGE_SIZE,
        }
        changed: dict[str, Any] = {}
        gone: set[str] = set()
        try:
            changes = list(self._pages_from(params))
        except ConnectorError as exc:
            if "HTTP 400" in str(exc) or "HTTP 404" in str(exc):
                return None  # the stored token expired or the drive was replaced
            raise
        for change in changes:
            if change.get("changeType", "file") != "file":
                continue
            file_id = str(change.get("fileId") or "")
            file = change.get("file") if isinstance(change.get("file"), dict) else None
            if change.get("removed") or file is None or file.get("trashed"):
                gone.add(file_id)
                changed.pop(file_id, None)
                continue
            inside = self._in_scope(file, folders)
            if file.get("mimeType") == FOLDER:
                if inside != (file_id in folders):
                    return None  # a folder moved into or out of the tree
                continue
            if inside:
                changed[file_id] = file
                gone.discard(file_id)
            else:
                gone.add(file_id)
                changed.pop(file_id, None)
        return changed, gone

    def _pages_from(self, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        # changes.list pages by pageToken too, starting from the stored one.
        token = params.pop("pageToken")
        seen: set[str] = set()
        for _page in range(MAX_PAGES):
            answer = expect(self._get("/changes", {**params, "pageToken": token}), dict, "/changes")
            items = answer.get("changes") or []
            if not isinstance(items, list):
                raise ConnectorError("unexpected answer for /changes: `changes` is not a list")
            yield from (i for i in items if isinstance(i, dict))
            if answer.get("newStartPageToken"):
                self.new_token = str(answer["newStartPageToken"])
                return
            token = str(answer.get("nextPageToken") or "")
            if not token or token in seen:
                raise ConnectorError("Google Drive /changes: a page with neither token")
            seen.add(token)
        raise ConnectorError(f"Google Drive /changes: more than {MAX_PAGES} pages")

    def _in_scope(self, file: dict[str, Any], folders: set[str]) -> bool:
        if self.drive:
            return file.get("driveId") == self.drive
        parents = file.get("parents")
        return isinstance(parents, list) and any(p in folders for p in parents)

    def _ref(self, file: dict[str, Any]) -> DocRef | None:
        name = str(file.get("name") or file.get("id"))
        mime = str(file.get("mimeType") or "")
        if mime in EXPORTS:
            suffix = EXPORTS[mime][1]
        elif parsing.supported(name):
            suffix = ""
        elif mime in SUFFIXES:
            suffix = SUFFIXES[mime]
        else:
            return None  # images, archives, forms, shortcuts: nothing to read
        file_id = str(file["id"])
        self.files[file_id] = {**file, "suffix": suffix}
        try:
            size = int(file.get("size") or 0)
        except (TypeError, ValueError):
            size = 0
        return DocRef(
            external_id=file_id,
            version=f"v{file.get('version') or '0'}",
            path=name,
            title=name,
            link=str(
                file.get("webViewLink") or f"https://drive.google.com/open?id={quote(file_id)}"
            ),
            size=size,
        )

    def list_documents(self) -> Iterator[DocRef]:
        if bool(self.folder) == bool(self.drive):
            raise ConnectorError("the Google Drive source needs a folder id or a shared drive id")
        if not ID.match(self.folder or self.drive):
            # The folder id goes into a query string (`'<id>' in parents`): ids only.
            raise ConnectorError("the folder or shared drive id has characters ids never have")
        stored = dict(self.source.sync_state or {})
        scope = {"folder": self.folder, "drive": self.drive}
        self.new_token = ""
        delta = None
        if not self.full and stored.get("page_token") and stored.get("scope") == scope:
            delta = self._changes(str(stored["page_token"]), set(stored.get("folders") or []))
        if delta is None:
            # The start token comes first: changes made while listing are read next time.
            start = expect(
                self._get("/changes/startPageToken", self._drive_params()), dict, "startPageToken"
            )
            token = str(start.get("startPageToken") or "")
            if not token:
                raise ConnectorError("Google Drive gave no start page token")
            files, folders = self._full()
            self.state = {"page_token": token, "folders": folders, "scope": scope}
            for file in files.values():
                if (ref := self._ref(file)) is not None:
                    yield ref
            return
        changed, gone = delta
        self.state = {**stored, "page_token": self.new_token or stored["page_token"]}
        listed = set()
        for file_id, file in changed.items():
            ref = self._ref(file)
            if ref is not None:
                listed.add(file_id)
                yield ref
        for doc in self.source.documents.all():
            if doc.external_id not in listed and doc.external_id not in gone:
                yield DocRef(
                    external_id=doc.external_id,
                    version=doc.version,
                    path=doc.path,
                    title=doc.title,
                    link=doc.link,
                    size=doc.size,
                )

    def sync_state(self) -> dict[str, Any] | None:
        return self.state

    # --- one file ------------------------------------------------------------------------
    def fetch(self, ref: DocRef) -> Fetched:
        file = self.files.get(ref.external_id)
        if file is None:
            # Listed from the index (unchanged) but re-read (a rebuild, a model change).
            file = expect(
                self._get(
                    f"/files/{quote(ref.external_id)}",
                    {"supportsAllDrives": "true", "fields": FIELDS},
                    FetchError,
                ),
                dict,
                "files.get",
                FetchError,
            )
            if self._ref(file) is None:
                raise FetchError("the file is no longer of a type that can be read")
            file = self.files[ref.external_id]
        if ref.size > max_bytes():
            raise too_big(ref.size)
        mime = str(file.get("mimeType") or "")
        file_id = quote(ref.external_id)
        if mime in EXPORTS:
            export = EXPORTS[mime][0]
            data, content_type = self.api.raw(
                "GET",
                f"/files/{file_id}/export",
                params={"mimeType": export},
                headers=self._auth(FetchError),
                error=FetchError,
            )
        else:
            data, content_type = self.api.raw(
                "GET",
                f"/files/{file_id}",
                params={"alt": "media", "supportsAllDrives": "true"},
                headers=self._auth(FetchError),
                error=FetchError,
            )
        name = str(file.get("name") or ref.external_id) + str(file.get("suffix") or "")
        return Fetched(
            data=data,
            name=name,
            content_type=content_type,
            title=str(file.get("name") or ""),
            link=ref.link,
        )
