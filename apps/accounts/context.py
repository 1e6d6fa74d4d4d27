"""Template context shared by every page: the admin flag and the console sections."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from apps.accounts import console_nav
from apps.accounts.roles import is_portal_admin


def portal(request: HttpRequest) -> dict[str, Any]:
    admin = is_portal_admin(getattr(request, "user", None))
    return {"is_portal_admin": admin, "console_sections": console_nav.sections() if admin else []}
