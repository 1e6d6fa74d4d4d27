"""A JSON web API read through netguard, for the Mattermost and Google Drive connectors.

Every answer is read as a stream and abandoned past KNOWLEDGE_MAX_FILE_MB, so a hostile or
broken server cannot fill memory; an error status or a body that is not JSON becomes one
message naming the request. Whether that message fails the job (ConnectorError while
listing) or one document (FetchError while fetching) is the caller's choice: `error`.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from apps.knowledge.ingest.connectors import (
    ConnectorError,
    FetchError,
    max_bytes,
    netguard,
    too_big,
)

TIMEOUT = httpx.Timeout(30.0, connect=5.0)


class JsonApi:
    def __init__(self, base: str, name: str, headers: dict[str, str] | None = None):
        self.base = base.rstrip("/")
        self.name = name  # "Mattermost", "Google Drive": named in every error
        self.headers = {"User-Agent": "Opsdesk knowledge indexer", **(headers or {})}
        # Redirects are not followed: an API answer that moves elsewhere is an error.
        self.http = netguard.http_client(timeout=TIMEOUT, follow_redirects=False)

    def close(self) -> None:
        self.http.close()

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else f"{self.base}{path}"

    def raw(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        form: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        error: type[Exception] = ConnectorError,
    ) -> tuple[bytes, str]:
        """The answer's bytes and content type; `error` raised with a message naming the call."""
        what = f"{self.name} {method} {path.split('?')[0]}"
        try:
            with self.http.stream(
                method,
                self.url(path),
                params=params,
                json=body,
                data=form,
                headers={**self.headers, **(headers or {})},
            ) as response:
                declared = int(response.headers.get("content-length") or 0)
                if declared > max_bytes():
                    raise error(f"{what}: {too_big(declared)}")
                data = bytearray()
                for piece in response.iter_bytes():
                    data.extend(piece)
                    if len(data) > max_bytes():
                        raise error(f"{what}: {too_big(len(data))}")
                if response.status_code >= 300:
                    raise error(f"{what}: HTTP {response.status_code}{_reason(bytes(data))}")
                return bytes(data), response.headers.get("content-type", "")
        except (httpx.HTTPError, OSError) as exc:
            raise error(f"{what}: {exc}") from None

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        error = kwargs.get("error", ConnectorError)
        data, _ = self.raw(method, path, **kwargs)
        try:
            return json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise error(f"{self.name} {method} {path.split('?')[0]}: not JSON ({exc})") from None

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.json("GET", path, **kwargs)


def _reason(data: bytes) -> str:
    """The server's own words about an error (Mattermost's and Google's `message`), short."""
    try:
        body = json.loads(data[:65536])
    except (UnicodeDecodeError, json.JSONDecodeError):
        return ""
    if isinstance(body, dict):
        inner = body.get("error")
        message = body.get("message") or body.get("error_description")
        if isinstance(inner, dict):
            message = message or inner.get("message")
        elif isinstance(inner, str):
            message = message or inner
        if isinstance(message, str) and message:
            return f" ({message[:200]})"
    return ""


def expect(value: Any, kind: type, what: str, error: type[Exception] = ConnectorError) -> Any:
    """`value` if it is of `kind`; otherwise the answer's shape is not the documented one."""
    if not isinstance(value, kind):
        raise error(f"unexpected answer for {what}: not a JSON {kind.__name__}")
    return value


__all__ = ["ConnectorError", "FetchError", "JsonApi", "expect"]
