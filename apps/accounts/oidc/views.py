"""Sign-in through OpenID Connect: start, the provider's return, linking an account."""

from __future__ import annotations

import logging
import time
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.models import User
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from apps.accounts import audit
from apps.accounts.oidc import client, identity

log = logging.getLogger(__name__)
BACKEND = "apps.accounts.oidc.backend.OIDCBackend"
FLOWS_KEY = "oidc_flows"
ID_TOKEN_KEY = "oidc_id_token"  # noqa: S105 (a session key name)
# A flow not finished within this time is forgotten (the provider's own login may take a
# while: a password manager, a second factor).
FLOW_MAX_AGE = 15 * 60
MAX_OPEN_FLOWS = 5


def _enabled() -> None:
    if not settings.OIDC_ISSUER:
        raise Http404


def _callback_uri(request: HttpRequest) -> str:
    return request.build_absolute_uri(reverse("accounts:oidc_callback"))


def _safe_next(request: HttpRequest, value: str) -> str:
    if value and url_has_allowed_host_and_scheme(
        value, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return value
    return ""


def _failed(
    request: HttpRequest, error: client.OIDCError, who: str = "", subject: str = ""
) -> HttpResponse:
    log.warning("single sign-on failed (%s): %s", error.reason, error.detail)
    details = {"backend": "oidc", "reason": error.reason, "detail": error.detail[:500]}
    if subject:
        details["sub"] = subject
    audit.record(None, "login_failed", actor_name=who, details=details, request=request)
    context = {"message": error.message, "provider_name": settings.OIDC_PROVIDER_NAME}
    return render(request, "accounts/oidc_error.html", context, status=error.status)


def _start(request: HttpRequest, next_url: str, link_user_id: int | None) -> HttpResponse:
    try:
        flow, url = client.begin(_callback_uri(request), next_url, link_user_id)
    except client.OIDCError as error:
        return _failed(request, error)
    flows: dict[str, Any] = {
        state: data
        for state, data in request.session.get(FLOWS_KEY, {}).items()
        if time.time() - data.get("created", 0) < FLOW_MAX_AGE
    }
    # Several tabs may start a sign-in at once; each keeps its own state, the oldest go.
    while len(flows) >= MAX_OPEN_FLOWS:
        flows.pop(min(flows, key=lambda s: flows[s].get("created", 0)))
    flows[flow.state] = flow.as_session()
    request.session[FLOWS_KEY] = flows
    return redirect(url)


@login_not_required
@require_GET
def start(request: HttpRequest) -> HttpResponse:
    _enabled()
    next_url = _safe_next(request, request.GET.get("next", ""))
    if request.user.is_authenticated:
        return redirect(next_url or settings.LOGIN_REDIRECT_URL)
    return _start(request, next_url, None)


@require_POST
def link(request: HttpRequest) -> HttpResponse:
    """A signed-in user (password or LDAP) attaches their sign-on identity to this account."""
    _enabled()
    return _start(request, reverse("accounts:profile"), request.user.pk)


@login_not_required
@require_GET
def callback(request: HttpRequest) -> HttpResponse:
    _enabled()
    state = request.GET.get("state", "")
    flows: dict[str, Any] = request.session.get(FLOWS_KEY, {})
    # Taken out at once: a second use of the same answer (a replay, a reload) finds nothing.
    data = flows.pop(state, None) if state else None
    request.session[FLOWS_KEY] = flows
    if data is None or time.time() - data.get("created", 0) > FLOW_MAX_AGE:
        return _failed(
            request,
            client.FlowMismatch(
                _(
                    "This sign-in answer was already used, has expired, or was started in "
                    "another browser. Start the sign-in again."
                ),
                "unknown or replayed state",
            ),
        )
    flow = client.Flow.from_session(data)
    if "error" in request.GET:
        error = request.GET.get("error", "")
        if error in ("access_denied", "login_required", "consent_required"):
            message = _("The sign-in service did not sign you in (%(error)s).") % {"error": error}
        else:
            message = _(
                "The sign-in service refused the portal's request (%(error)s). Tell the "
                "portal's administrators."
            ) % {"error": error}
        return _failed(
            request,
            client.ProviderRefused(
                message, f"{error}: {request.GET.get('error_description', '')}"[:500]
            ),
        )
    code = request.GET.get("code", "")
    if not code:
        return _failed(
            request, client.FlowMismatch(_("The sign-in answer has no code."), "no code")
        )
    link_user = None
    if flow.link_user_id is not None:
        if not request.user.is_authenticated or request.user.pk != flow.link_user_id:
            return _failed(
                request,
                client.FlowMismatch(
                    _("Sign in to the portal again before linking single sign-on."),
                    "link flow finished by another session user",
                ),
            )
        link_user = User.objects.get(pk=flow.link_user_id)
    who = subject = ""
    try:
        claims, id_token = client.finish(flow, code, request.GET.get("iss"))
        subject = str(claims.get("sub", ""))
        who = str(claims.get("preferred_username") or claims.get("email") or subject)
        user = identity.user_for(claims, link_user)
    except client.OIDCError as error:
        return _failed(request, error, who, subject)
    if link_user is not None:
        audit.record(user, "oidc_linked", target=str(claims.get("sub")), request=request)
        messages.success(request, _("Single sign-on is now linked to your account."))
        request.session[ID_TOKEN_KEY] = id_token
        return redirect(flow.next_url or "accounts:profile")
    user.backend = BACKEND  # read by the audit trail's login receiver
    login(request, user, backend=BACKEND)
    # Kept for the provider's logout (id_token_hint); login() has rotated the session key.
    request.session[ID_TOKEN_KEY] = id_token
    return redirect(flow.next_url or settings.LOGIN_REDIRECT_URL)
