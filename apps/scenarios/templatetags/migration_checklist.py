"""{% checklist_progress run as progress %}: the viewing user's state of each step."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.simple_tag(takes_context=True)
def checklist_progress(context: Any, run: Any) -> dict[str, Any]:
    from apps.scenarios.migration.actions import progress_of

    user = getattr(context.get("request"), "user", None)
    if user is None or not user.is_authenticated or run is None or not run.pk:
        return {}
    return progress_of(run, user)


@register.simple_tag(takes_context=True)
def cited_documents(context: Any, facts: Any) -> dict[str, Any]:
    """The knowledge base's copies of the guides the steps cite, that the viewer may read."""
    from apps.scenarios.migration.knowledge import documents

    user = getattr(context.get("request"), "user", None)
    paths = {str((s.get("cite") or {}).get("path") or "") for s in (facts or {}).get("steps", [])}
    return documents(user, paths)


@register.filter
def get_item(mapping: Any, key: str) -> Any:
    return mapping.get(key) if hasattr(mapping, "get") else None
