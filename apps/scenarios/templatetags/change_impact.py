"""`{% past_incidents facts as found %}` on the change-impact run page: the incidents that
mention the service, searched with the permissions of whoever is looking."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.simple_tag(takes_context=True)
def past_incidents(context: Any, facts: dict[str, Any]) -> dict[str, Any]:
    from apps.scenarios.change_impact import incidents

    request = context.get("request")
    user = getattr(request, "user", None)
    service = facts.get("service") or {}
    names = [str(service.get("name") or ""), str(service.get("title") or "")]
    found, searched = incidents.for_service(user, names)
    return {"items": found, "searched": searched}
