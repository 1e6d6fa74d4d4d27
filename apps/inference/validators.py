"""Validation of backend base URLs."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

# Host names inside a cluster have no dots (vllm-fast-0), which Django's URLValidator refuses.
_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


def _valid_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return all(_LABEL.match(label) for label in host.rstrip(".").split("."))


def validate_base_url(value: str) -> None:
    """An http(s) URL with a host, optional port and path; no query, fragment or password."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  (raises ValueError for a bad port)
        host = parts.hostname or ""
    except ValueError:
        host, parts = "", None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not _valid_host(host)
        or parts.query
        or parts.fragment
        or parts.password
    ):
        raise ValidationError(
            _("Enter an http:// or https:// URL such as http://vllm-fast-0:8000/v1"),
            code="invalid",
        )
