"""Messenger accounts linked to portal accounts: the one-time link, linking, unlinking.

A messenger user who is not linked is offered a link (offer_link): a random code, kept only as
its SHA-256, valid for MESSENGER_LINK_MINUTES and once. Opening it while signed in to the
portal shows whose messenger account it is; confirming links it to the signed-in portal
account (claim). Only the newest code of a messenger user works, so a link that was
forwarded or posted by mistake is dead as soon as the user asks again. A messenger account is
linked to one portal account at most; its owner unlinks it from the profile page.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.accounts import audit
from apps.accounts.models import MessengerIdentity, MessengerLinkCode

MAX_CODE = 100  # longer "codes" are not ours: refused before any lookup


class LinkError(ValueError):
    """The link cannot be used; the message says why, for the page."""


def _digest(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def identity_for(kind: str, team: str, external_id: str) -> MessengerIdentity | None:
    """The linked identity of this messenger user, with its active portal user, or None."""
    return (
        MessengerIdentity.objects.select_related("user")
        .filter(kind=kind, team=team, external_id=external_id, user__is_active=True)
        .first()
    )


@transaction.atomic
def touch(identity: MessengerIdentity) -> None:
    MessengerIdentity.objects.filter(pk=identity.pk).update(last_used=timezone.now())


@transaction.atomic
def offer_link(kind: str, team: str, external_id: str, external_name: str = "") -> str:
    """A new one-time code for this messenger user (earlier unused ones stop working)."""
    now = timezone.now()
    MessengerLinkCode.objects.filter(expires__lt=now).delete()
    MessengerLinkCode.objects.filter(
        kind=kind, team=team, external_id=external_id, used__isnull=True
    ).delete()
    code = secrets.token_urlsafe(32)
    MessengerLinkCode.objects.create(
        digest=_digest(code),
        kind=kind,
        team=team[:64],
        external_id=external_id[:64],
        external_name=external_name[:150],
        expires=now + timedelta(minutes=settings.MESSENGER_LINK_MINUTES),
    )
    return code


def pending(code: str) -> MessengerLinkCode:
    """The code's row if it may still be used; LinkError says why not."""
    if not code or len(code) > MAX_CODE:
        raise LinkError(_("This link is not valid."))
    row = MessengerLinkCode.objects.filter(digest=_digest(code)).first()
    if row is None:
        raise LinkError(
            _("This link is not valid or was replaced by a newer one. Ask the bot again.")
        )
    if row.used is not None:
        raise LinkError(_("This link was used already."))
    if row.expires <= timezone.now():
        raise LinkError(_("This link has expired. Ask the bot again for a new one."))
    return row


@transaction.atomic
def claim(user: Any, code: str) -> MessengerIdentity:
    """Link the code's messenger account to `user` (the one signed in). LinkError when the
    code is unknown, used or expired, or the messenger account belongs to someone else."""
    row = pending(code)
    # Marked used first: of two requests with one code, only one links.
    taken = MessengerLinkCode.objects.filter(pk=row.pk, used__isnull=True).update(
        used=timezone.now()
    )
    if not taken:
        raise LinkError(_("This link was used already."))
    existing = MessengerIdentity.objects.filter(
        kind=row.kind, team=row.team, external_id=row.external_id
    ).first()
    if existing is not None:
        if existing.user_id != user.pk:
            raise LinkError(
                _(
                    "This messenger account is linked to another portal account. Its owner "
                    "can unlink it on their profile page."
                )
            )
        return existing
    try:
        with transaction.atomic():
            identity = MessengerIdentity.objects.create(
                user=user,
                kind=row.kind,
                team=row.team,
                external_id=row.external_id,
                external_name=row.external_name,
            )
    except IntegrityError:
        raise LinkError(_("This messenger account was linked meanwhile.")) from None
    audit.record(
        user,
        "messenger_linked",
        target=f"{row.kind}:{row.external_name or row.external_id}",
        details={"team": row.team, "external_id": row.external_id},
    )
    return identity


@transaction.atomic
def unlink(user: Any, identity_id: int) -> bool:
    """Remove one of `user`'s linked messenger accounts; False when it is not theirs."""
    row = MessengerIdentity.objects.filter(pk=identity_id, user=user).first()
    if row is None:
        return False
    row.delete()
    audit.record(
        user,
        "messenger_unlinked",
        target=f"{row.kind}:{row.external_name or row.external_id}",
        details={"team": row.team, "external_id": row.external_id},
    )
    return True
