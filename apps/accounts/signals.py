"""Audit sign-ins, and turn LDAP admin-group membership into the portal admin flag."""

from __future__ import annotations

from typing import Any

from axes.signals import user_locked_out
from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from apps.accounts import audit


@receiver(user_logged_in)
def _logged_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    backend = getattr(user, "backend", "") or ""
    audit.record(user, "login", details={"backend": backend.rsplit(".", 1)[-1]}, request=request)


@receiver(user_logged_out)
def _logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is not None:
        audit.record(user, "logout", request=request)


@receiver(user_login_failed)
def _login_failed(
    sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any
) -> None:
    # Never the password: credentials holds it, and the audit log is read by people.
    audit.record(
        None, "login_failed", actor_name=str(credentials.get("username", "")), request=request
    )


@receiver(user_locked_out)
def _locked_out(
    sender: Any, request: Any = None, username: str | None = None, ip_address: Any = None, **kw: Any
) -> None:
    # Sent at the failure that reaches the limit and at every attempt refused while locked:
    # the trail shows how long the guessing went on.
    audit.record(
        None,
        "login_locked_out",
        actor_name=str(username or ""),
        details={"ip": str(ip_address or "")},
        request=request,
    )


if settings.LDAP_SERVER_URI:
    from django_auth_ldap.backend import populate_user

    @receiver(populate_user)
    def _ldap_flags(sender: Any, user: Any, ldap_user: Any, **kwargs: Any) -> None:
        admin_groups = {g.lower() for g in settings.LDAP_ADMIN_GROUPS}
        names = {name.lower() for name in ldap_user.group_names}
        # Local superusers keep their flag; directory users follow the directory every login.
        user.is_staff = user.is_superuser or bool(admin_groups & names)
