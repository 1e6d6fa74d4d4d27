"""Admin changes to the backend registry; each one is audited."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.http import HttpRequest

from apps.accounts import audit
from apps.inference import crypto
from apps.inference.forms import BackendForm
from apps.inference.models import Backend


def _apply_key(backend: Backend, form: BackendForm) -> str:
    """Set or clear the stored key from the form; returns what happened, for the audit."""
    if form.cleaned_data.get("clear_api_key"):
        backend.api_key_encrypted = ""
        return "cleared"
    if form.cleaned_data.get("api_key"):
        backend.api_key_encrypted = crypto.encrypt(form.cleaned_data["api_key"])
        return "set"
    return ""


@transaction.atomic
def create_backend(user: User, form: BackendForm, request: HttpRequest | None = None) -> Backend:
    backend: Backend = form.save(commit=False)
    key = _apply_key(backend, form)
    backend.save()
    details: dict[str, Any] = {f: str(getattr(backend, f)) for f in form.Meta.fields}
    if key:
        details["api_key"] = key  # what happened to it, never the key itself
    audit.record(user, "llm_backend_created", target=backend.name, details=details, request=request)
    return backend


@transaction.atomic
def update_backend(user: User, form: BackendForm, request: HttpRequest | None = None) -> Backend:
    backend: Backend = form.save(commit=False)
    changes: dict[str, Any] = {
        field: {"from": str(form.initial.get(field)), "to": str(getattr(backend, field))}
        for field in form.changed_data
        if field in form.Meta.fields
    }
    key = _apply_key(backend, form)
    if key:
        changes["api_key"] = key
    backend.save()
    if changes:
        audit.record(
            user, "llm_backend_changed", target=backend.name, details=changes, request=request
        )
    return backend


@transaction.atomic
def set_enabled(
    user: User, backend_id: int, enabled: bool, request: HttpRequest | None = None
) -> Backend:
    backend = Backend.objects.select_for_update().get(pk=backend_id)
    if backend.enabled != enabled:
        backend.enabled = enabled
        backend.save(update_fields=["enabled", "updated"])
        action = "llm_backend_enabled" if enabled else "llm_backend_disabled"
        audit.record(user, action, target=backend.name, request=request)
    return backend
