"""The relying-party side of OpenID Connect: discovery, the authorization request with PKCE,
the code exchange, ID token validation (OpenID Connect Core 3.1.3.7) and userinfo.

Every failure is an OIDCError carrying a message for the person at the browser (what
happened and what to do) and a technical detail for the log and the audit trail.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote_plus, urlencode

import httpx
from django.conf import settings
from django.core.cache import cache
from django.utils.translation import gettext as _

from apps.accounts.oidc import jose

log = logging.getLogger(__name__)
DISCOVERY_TTL = 3600


class OIDCError(Exception):
    """A sign-in that cannot go on; `message` is for the user, `detail` for the log."""

    status = 502
    reason = "provider"

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(detail or message)
        self.message = message
        self.detail = detail or message


class ProviderUnreachable(OIDCError):
    reason = "unreachable"


class ProviderRefused(OIDCError):
    reason = "refused"


class ClientRejected(OIDCError):
    reason = "client_rejected"


class TokenInvalid(OIDCError):
    reason = "token_invalid"


class ClockSkew(TokenInvalid):
    reason = "clock_skew"


class FlowMismatch(OIDCError):
    status = 400
    reason = "state"


class AccountConflict(OIDCError):
    status = 403
    reason = "account_exists"


@dataclass
class Flow:
    """What the portal remembers between sending the browser away and its return."""

    state: str
    nonce: str
    verifier: str
    redirect_uri: str
    next_url: str = ""
    link_user_id: int | None = None
    created: float = field(default_factory=time.time)

    def as_session(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_session(cls, data: dict[str, Any]) -> Flow:
        return cls(**data)


def _http() -> httpx.Client:
    return httpx.Client(timeout=settings.OIDC_TIMEOUT, follow_redirects=False)


def _unreachable(url: str, exc: Exception) -> ProviderUnreachable:
    return ProviderUnreachable(
        _(
            "The sign-in service (%(issuer)s) cannot be reached right now. Try again in a "
            "few minutes, or sign in with your password; if it goes on, tell the portal's "
            "administrators."
        )
        % {"issuer": settings.OIDC_ISSUER},
        f"{url}: {type(exc).__name__}: {exc}",
    )


def _get_json(url: str) -> dict[str, Any]:
    try:
        with _http() as http:
            response = http.get(url, headers={"Accept": "application/json"})
    except httpx.HTTPError as exc:
        raise _unreachable(url, exc) from exc
    if response.status_code != 200:
        raise _unreachable(url, RuntimeError(f"HTTP {response.status_code}"))
    try:
        data = response.json()
    except ValueError as exc:
        raise _unreachable(url, exc) from exc
    if not isinstance(data, dict):
        raise _unreachable(url, ValueError("not a JSON object"))
    return data


def _cache_key(kind: str) -> str:
    digest = hashlib.sha256(settings.OIDC_ISSUER.encode()).hexdigest()[:16]
    return f"oidc:{kind}:{digest}"


def discovery(refresh: bool = False) -> dict[str, Any]:
    """The provider's metadata, cached for an hour."""
    key = _cache_key("discovery")
    if not refresh and (cached := cache.get(key)):
        return dict(cached)
    issuer = settings.OIDC_ISSUER.rstrip("/")
    data = _get_json(f"{issuer}/.well-known/openid-configuration")
    # The issuer in the document must be the one configured, byte for byte (Discovery 4.3):
    # otherwise tokens from another tenant of the same provider would be taken as ours.
    if data.get("issuer") != settings.OIDC_ISSUER:
        raise ProviderRefused(
            _(
                "The sign-in service is misconfigured on the portal: OIDC_ISSUER does not "
                "match the issuer the provider announces. Tell the portal's administrators."
            ),
            f"discovery issuer {data.get('issuer')!r} != OIDC_ISSUER {settings.OIDC_ISSUER!r}",
        )
    for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        if not isinstance(data.get(name), str):
            raise ProviderRefused(_("The sign-in service sent an incomplete description."), name)
    cache.set(key, data, DISCOVERY_TTL)
    return data


def jwks(refresh: bool = False) -> dict[str, Any]:
    key = _cache_key("jwks")
    if not refresh and (cached := cache.get(key)):
        return dict(cached)
    data = _get_json(discovery()["jwks_uri"])
    cache.set(key, data, DISCOVERY_TTL)
    return data


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def begin(
    redirect_uri: str, next_url: str = "", link_user_id: int | None = None
) -> tuple[Flow, str]:
    """A new flow and the provider URL to send the browser to."""
    meta = discovery()
    flow = Flow(
        state=secrets.token_urlsafe(32),
        nonce=secrets.token_urlsafe(32),
        verifier=secrets.token_urlsafe(64),
        redirect_uri=redirect_uri,
        next_url=next_url,
        link_user_id=link_user_id,
    )
    challenge = _b64(hashlib.sha256(flow.verifier.encode("ascii")).digest())
    params = {
        "response_type": "code",
        "client_id": settings.OIDC_CLIENT_ID,
        "redirect_uri": redirect_uri,
        "scope": " ".join(settings.OIDC_SCOPES),
        "state": flow.state,
        "nonce": flow.nonce,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    if link_user_id is not None:
        # Linking an existing account: make the person type their provider password even if
        # the provider still has a session for someone else in this browser.
        params["prompt"] = "login"
    separator = "&" if "?" in meta["authorization_endpoint"] else "?"
    return flow, f"{meta['authorization_endpoint']}{separator}{urlencode(params)}"


def _token_request(meta: dict[str, Any], flow: Flow, code: str) -> dict[str, Any]:
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": flow.redirect_uri,
        "code_verifier": flow.verifier,
    }
    methods = meta.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
    headers = {"Accept": "application/json"}
    if "client_secret_basic" in methods:
        # RFC 6749 2.3.1: both are form-urlencoded before Basic encoding (Dex and Keycloak
        # decode them; a secret with "+" or ":" would fail otherwise).
        pair = f"{quote_plus(settings.OIDC_CLIENT_ID)}:{quote_plus(settings.OIDC_CLIENT_SECRET)}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode("ascii")
    else:
        data |= {"client_id": settings.OIDC_CLIENT_ID, "client_secret": settings.OIDC_CLIENT_SECRET}
    url = meta["token_endpoint"]
    try:
        with _http() as http:
            response = http.post(url, data=data, headers=headers)
    except httpx.HTTPError as exc:
        raise _unreachable(url, exc) from exc
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    error = str(body.get("error", ""))
    if response.status_code == 401 or error in ("invalid_client", "unauthorized_client"):
        raise ClientRejected(
            _(
                "The sign-in service does not accept the portal's client credentials "
                "(OIDC_CLIENT_ID / OIDC_CLIENT_SECRET). Sign-on cannot work until the "
                "administrators fix them; sign in with your password meanwhile."
            ),
            f"token endpoint: HTTP {response.status_code} {error} {body.get('error_description', '')}",
        )
    if error == "invalid_grant":
        raise FlowMismatch(
            _("This sign-in has expired or was already used. Start the sign-in again."),
            f"token endpoint: invalid_grant {body.get('error_description', '')}",
        )
    if response.status_code != 200 or error or not body.get("id_token"):
        raise ProviderRefused(
            _("The sign-in service refused to complete the sign-in. Try again later."),
            f"token endpoint: HTTP {response.status_code} {error} {body.get('error_description', '')}",
        )
    return body


def _clock_message(offset: int) -> str:
    return _(
        "The clocks of the sign-in service and of the portal differ by about %(seconds)s "
        "seconds, so its sign-in cannot be trusted. Tell the administrators to check time "
        "synchronisation (NTP) on both."
    ) % {"seconds": abs(round(offset, -1))}


def validate_id_token(token: str, flow: Flow, now: float | None = None) -> dict[str, Any]:
    """The ID token's claims, once its signature, issuer, audience, times and nonce check."""
    meta = discovery()
    allowed = tuple(meta.get("id_token_signing_alg_values_supported") or ("RS256",))
    invalid = _(
        "The sign-in service sent an identity that does not check out, so you were not "
        "signed in. Try again; if it goes on, tell the portal's administrators."
    )
    try:
        try:
            claims = jose.verify(token, jwks(), allowed)
        except jose.UnknownKey:
            # The provider rotated its keys since they were cached: fetch them once more.
            claims = jose.verify(token, jwks(refresh=True), allowed)
    except jose.JoseError as exc:
        raise TokenInvalid(invalid, f"ID token: {exc}") from exc
    if claims.get("iss") != settings.OIDC_ISSUER:
        raise TokenInvalid(invalid, f"ID token iss {claims.get('iss')!r}")
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    if settings.OIDC_CLIENT_ID not in audiences:
        raise TokenInvalid(invalid, f"ID token aud {audience!r}")
    if len(audiences) > 1 and claims.get("azp") != settings.OIDC_CLIENT_ID:
        raise TokenInvalid(invalid, f"ID token azp {claims.get('azp')!r} with several audiences")
    if claims.get("nonce") != flow.nonce:
        raise FlowMismatch(
            _(
                "This sign-in answer does not belong to the sign-in started in this browser. "
                "Start the sign-in again."
            ),
            "ID token nonce does not match the one sent",
        )
    now = time.time() if now is None else now
    leeway = settings.OIDC_CLOCK_SKEW_SECONDS
    exp, iat = claims.get("exp"), claims.get("iat")
    if not isinstance(exp, int | float) or not isinstance(iat, int | float):
        raise TokenInvalid(invalid, "ID token without numeric exp/iat")
    if iat > now + leeway:
        raise ClockSkew(
            _clock_message(int(iat - now)), f"ID token iat {iat} is {iat - now:.0f}s ahead"
        )
    if exp < now - leeway:
        # A token that expired long before it reached us was issued by a clock behind ours.
        raise ClockSkew(
            _clock_message(int(now - iat)), f"ID token exp {exp} is {now - exp:.0f}s behind"
        )
    return claims


def userinfo(access_token: str, subject: str) -> dict[str, Any]:
    """Claims from the userinfo endpoint (where Keycloak and node-oidc-provider put groups)."""
    url = discovery().get("userinfo_endpoint")
    if not url or not access_token:
        return {}
    try:
        with _http() as http:
            response = http.get(
                url,
                headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
            )
    except httpx.HTTPError as exc:
        raise _unreachable(url, exc) from exc
    if response.status_code != 200 or "json" not in response.headers.get("content-type", ""):
        # A signed or encrypted userinfo, or none: the ID token's claims stand alone.
        log.warning(
            "userinfo: HTTP %s %s", response.status_code, response.headers.get("content-type")
        )
        return {}
    data = response.json()
    # Core 5.3.2: the sub in userinfo must be the ID token's, or the answer is not for us.
    if not isinstance(data, dict) or data.get("sub") != subject:
        raise TokenInvalid(
            _("The sign-in service sent details of another person. Try again."),
            "userinfo sub differs from the ID token's",
        )
    return data


def finish(flow: Flow, code: str, iss: str | None = None) -> tuple[dict[str, Any], str]:
    """Exchange the code; the person's claims (ID token, then userinfo) and the raw ID token."""
    meta = discovery()
    if iss is not None and iss != settings.OIDC_ISSUER:
        # RFC 9207: the answer names another issuer (a mix-up attack or a misrouted callback).
        raise FlowMismatch(
            _("This sign-in answer came from another sign-in service. Start again."),
            f"authorization response iss {iss!r}",
        )
    tokens = _token_request(meta, flow, code)
    id_token = str(tokens["id_token"])
    claims = validate_id_token(id_token, flow)
    extra = userinfo(str(tokens.get("access_token", "")), str(claims.get("sub")))
    merged = {**extra, **{k: v for k, v in claims.items() if k not in extra or k in _PROTECTED}}
    return merged, id_token


# Claims about the token itself: userinfo never overrides them.
_PROTECTED = {"iss", "sub", "aud", "exp", "iat", "nonce", "azp", "auth_time"}


def logout_url(id_token: str, post_logout_redirect_uri: str) -> str | None:
    """The provider's end-session URL (RP-Initiated Logout 1.0), if it has one."""
    try:
        endpoint = discovery().get("end_session_endpoint")
    except OIDCError:
        return None
    if not endpoint:
        return None
    params = {
        "client_id": settings.OIDC_CLIENT_ID,
        "post_logout_redirect_uri": post_logout_redirect_uri,
    }
    if id_token:
        params["id_token_hint"] = id_token
    separator = "&" if "?" in endpoint else "?"
    return f"{endpoint}{separator}{urlencode(params)}"
