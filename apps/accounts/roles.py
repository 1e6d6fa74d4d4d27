"""Who is a portal admin, and the decorators every admin page uses."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse


def is_portal_admin(user: User | AnonymousUser | None) -> bool:
    """Superusers, and users in an LDAP admin group (mirrored into is_staff at login)."""
    return bool(
        user and user.is_authenticated and user.is_active and (user.is_staff or user.is_superuser)
    )


def admin_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Signed-in non-admins get 403 (anonymous users are sent to login by the middleware)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not is_portal_admin(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


def user_group_names(user: User | AnonymousUser) -> list[str]:
    """The group names that decide what a user may read."""
    if not user or not user.is_authenticated:
        return []
    return sorted(user.groups.values_list("name", flat=True))
