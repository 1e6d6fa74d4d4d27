"""From a verified OpenID Connect identity to a portal user, with its groups mirrored.

A person is recognised by the provider's (issuer, sub) pair only. An account that already
exists under the same user name or email (a local or LDAP account) is never taken over by a
sign-on that merely claims the same address: its owner links it once from the profile page,
signed in with the password, or an administrator does (`manage.py oidc_link`).
"""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.accounts.models import OIDCIdentity
from apps.accounts.oidc.client import AccountConflict, TokenInvalid


def claim(claims: dict[str, Any], path: str) -> Any:
    """A claim by name, or by a dotted path into nested objects (realm_access.roles)."""
    if path in claims:
        return claims[path]
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def group_names(claims: dict[str, Any]) -> list[str]:
    raw = claim(claims, settings.OIDC_GROUPS_CLAIM)
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list):
        return []
    names = {str(item).strip()[:150] for item in raw if isinstance(item, str | int)}
    return sorted(name for name in names if name)


def _username(claims: dict[str, Any]) -> str:
    candidates = [claim(claims, settings.OIDC_USERNAME_CLAIM)]
    email = claims.get("email")
    if isinstance(email, str) and "@" in email:
        candidates.append(email.split("@", 1)[0])
    for value in candidates:
        if isinstance(value, str):
            cleaned = re.sub(r"[^\w.@+-]", "", value)[:150]
            if cleaned:
                return cleaned
    # Django's user name rules: a subject is opaque but usually already fits.
    return re.sub(r"[^\w.@+-]", "", str(claims["sub"]))[:150] or "user"


def mirror(user: User, claims: dict[str, Any]) -> list[str]:
    """Set the user's groups and admin flag from the claims, as LDAP sign-in does."""
    names = group_names(claims)
    groups = [Group.objects.get_or_create(name=name)[0] for name in names]
    user.groups.set(groups)
    admin_groups = {g.lower() for g in settings.OIDC_ADMIN_GROUPS}
    user.is_staff = user.is_superuser or bool(admin_groups & {n.lower() for n in names})
    fields = ["is_staff"]
    for field, key in (
        ("email", "email"),
        ("first_name", "given_name"),
        ("last_name", "family_name"),
    ):
        value = claims.get(key)
        if isinstance(value, str) and value:
            setattr(user, field, value[:150] if field != "email" else value[:254])
            fields.append(field)
    user.save(update_fields=fields)
    return names


@transaction.atomic
def user_for(claims: dict[str, Any], link_user: User | None = None) -> User:
    """The user these verified claims belong to: found, linked or created; groups mirrored."""
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise TokenInvalid(_("The sign-in service sent no user identifier."), "no sub claim")
    issuer = settings.OIDC_ISSUER
    identity = (
        OIDCIdentity.objects.select_related("user")
        .select_for_update()
        .filter(issuer=issuer, subject=subject)
        .first()
    )
    if identity is not None:
        user = identity.user
        if link_user is not None and link_user.pk != user.pk:
            raise AccountConflict(
                _(
                    "This sign-on identity is already linked to another portal account "
                    "(%(username)s). Ask the administrators to move it."
                )
                % {"username": user.get_username()},
                f"sub {subject} linked to {user.get_username()}, link asked by {link_user}",
            )
    elif link_user is not None:
        user = link_user
        identity = OIDCIdentity.objects.create(user=user, issuer=issuer, subject=subject)
    else:
        username = _username(claims)
        email = claims.get("email") if isinstance(claims.get("email"), str) else ""
        clash = Q(username__iexact=username)
        if email:
            clash |= Q(email__iexact=email)
        existing = User.objects.filter(clash).first()
        if existing is not None:
            raise AccountConflict(
                _(
                    "A portal account with the user name or email of this sign-on identity "
                    "already exists, and it is not linked to it. Sign in with that account's "
                    "password and choose “Link single sign-on” on your profile page, or ask "
                    "the administrators to link it."
                ),
                f"sub {subject} ({username}, {email}) clashes with existing {existing.get_username()}",
            )
        user = User(username=username, email=email or "")
        user.set_unusable_password()
        user.save()
        identity = OIDCIdentity.objects.create(user=user, issuer=issuer, subject=subject)
    if not user.is_active:
        raise AccountConflict(
            _("Your portal account is disabled. Ask the administrators."),
            f"inactive user {user.get_username()}",
        )
    identity.last_login = timezone.now()
    identity.save(update_fields=["last_login"])
    mirror(user, claims)
    return user
