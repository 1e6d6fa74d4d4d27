"""The backend registry: rows in the database, seeded and kept in step with LLM_BACKENDS."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.db import transaction

from apps.inference import crypto
from apps.inference.models import AUTO, Backend, Tier
from apps.inference.validators import validate_base_url

TIERS = tuple(tier.value for tier in Tier)  # what backends serve
REQUESTABLE = (AUTO, *TIERS)  # what a request may name
# What an LLM_BACKENDS entry says about its model, re-applied on every start (false if absent).
FLAGS = ("base_model", "development")


@dataclass(frozen=True)
class BackendConfig:
    """What a caller needs to talk to one backend (the API key already decrypted)."""

    name: str
    url: str
    model: str
    tier: str
    api_key: str
    enabled: bool
    key_error: str = ""  # set when a stored key cannot be decrypted any more
    base_model: bool = False  # asked in completion style (prompts.Prompt.completion)
    development: bool = False  # every answer says it comes from a development model

    @property
    def root_url(self) -> str:
        """Where vLLM serves /health and /metrics: the base URL without its /v1."""
        url = self.url.rstrip("/")
        return url[: -len("/v1")] if url.endswith("/v1") else url


def _config(row: Backend) -> BackendConfig:
    key = crypto.decrypt(row.api_key_encrypted)
    return BackendConfig(
        name=row.name,
        url=row.url.rstrip("/"),
        model=row.model,
        tier=row.tier,
        api_key=key or "",
        enabled=row.enabled,
        base_model=row.base_model,
        development=row.development,
        key_error="" if key is not None else "stored API key cannot be decrypted; re-enter it",
    )


def load(enabled_only: bool = True) -> list[BackendConfig]:
    rows = Backend.objects.all()
    if enabled_only:
        rows = rows.filter(enabled=True)
    configs = [_config(row) for row in rows]
    if not configs and settings.LLM_BACKENDS and not Backend.objects.exists():
        # A process that starts before any poller ran (a Celery worker, a test) still finds
        # the configured backends: seed the table on first use.
        sync_from_settings()
        configs = [_config(row) for row in Backend.objects.filter(enabled=True)]
    return configs


def validate_entry(entry: Any, index: int) -> dict[str, Any]:
    """One LLM_BACKENDS object, checked; raises ValueError naming what is wrong."""
    where = f"LLM_BACKENDS[{index}]"
    if not isinstance(entry, dict):
        raise ValueError(f"{where} must be an object")
    missing = [k for k in ("name", "url", "model", "tier") if not entry.get(k)]
    if missing:
        raise ValueError(f"{where} lacks {', '.join(missing)}")
    try:
        validate_slug(entry["name"])
        validate_base_url(entry["url"])
    except ValidationError as exc:
        raise ValueError(f"{where}: {'; '.join(str(m) for m in exc.messages)}") from None
    if entry["tier"] not in TIERS:
        raise ValueError(f"{where}: tier must be one of {', '.join(TIERS)}")
    for flag in ("enabled", *FLAGS):
        if flag in entry and not isinstance(entry[flag], bool):
            raise ValueError(f"{where}: {flag} must be true or false")
    return entry


@transaction.atomic
def sync_from_settings() -> list[str]:
    """Create or update the LLM_BACKENDS entries; returns a line per change for the log.

    URL, model, tier, key and the model's flags (`base_model`, `development`: false when
    the entry leaves them out) follow the settings on every start. `enabled` follows them only
    when the entry says so explicitly, so an admin who disabled a replica keeps it disabled.
    """
    changes: list[str] = []
    for index, raw in enumerate(settings.LLM_BACKENDS):
        entry = validate_entry(raw, index)
        fields = {
            "url": entry["url"].rstrip("/"),
            "model": entry["model"],
            "tier": entry["tier"],
            **{flag: bool(entry.get(flag, False)) for flag in FLAGS},
            "from_settings": True,
        }
        # get_or_create: several processes seed at start-up at once; the losers of the
        # insert race read the winner's row instead of failing.
        row, created = Backend.objects.select_for_update().get_or_create(
            name=entry["name"],
            defaults={
                "enabled": entry.get("enabled", True),
                "api_key_encrypted": crypto.encrypt(entry.get("api_key") or ""),
                **fields,
            },
        )
        if created:
            changes.append(f"created {entry['name']}")
            continue
        if "enabled" in entry:
            fields["enabled"] = entry["enabled"]
        if "api_key" in entry and crypto.decrypt(row.api_key_encrypted) != entry["api_key"]:
            fields["api_key_encrypted"] = crypto.encrypt(entry["api_key"] or "")
        changed = [k for k, v in fields.items() if getattr(row, k) != v]
        if changed:
            for key in changed:
                setattr(row, key, fields[key])
            row.save(update_fields=[*changed, "updated"])
            changes.append(f"updated {entry['name']}: {', '.join(changed)}")
    return changes
