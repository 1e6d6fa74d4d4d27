"""Sign-in, sign-out and the profile page with personal API tokens and linked messenger
accounts."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from apps.accounts import messenger, tokens
from apps.accounts.forms import LoginForm, TokenForm
from apps.accounts.oidc import client as oidc_client
from apps.accounts.oidc.views import ID_TOKEN_KEY
from apps.accounts.roles import user_group_names
from common.http import AuthedRequest


@method_decorator(login_not_required, name="dispatch")
class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True
    http_method_names = ["get", "post"]

    def get_context_data(self, **kwargs: object) -> dict[str, object]:
        context = super().get_context_data(**kwargs)
        context["oidc_name"] = settings.OIDC_PROVIDER_NAME if settings.OIDC_ISSUER else ""
        return context


class LogoutView(auth_views.LogoutView):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        id_token = request.session.get(ID_TOKEN_KEY, "")
        response = super().post(request, *args, **kwargs)
        if settings.OIDC_ISSUER and id_token:
            # Signed in through the provider: end its session too (RP-Initiated Logout), or
            # the next "Sign in with" would go straight back in without a password.
            back = request.build_absolute_uri(reverse(settings.LOGOUT_REDIRECT_URL))
            url = oidc_client.logout_url(id_token, back)
            if url:
                return redirect(url)
        return response


@require_http_methods(["GET", "POST"])
def profile(request: AuthedRequest) -> HttpResponse:
    new_token = None
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        _row, new_token = tokens.create_token(request.user, form.cleaned_data["name"])
        form = TokenForm()
    context = {
        "groups": user_group_names(request.user),
        "tokens": request.user.api_tokens.all(),
        "form": form,
        "new_token": new_token,
        "oidc_name": settings.OIDC_PROVIDER_NAME if settings.OIDC_ISSUER else "",
        "messenger_accounts": request.user.messenger_identities.all(),
        "oidc_linked": settings.OIDC_ISSUER
        and request.user.oidc_identities.filter(issuer=settings.OIDC_ISSUER).exists(),
    }
    return render(request, "accounts/profile.html", context)


@require_POST
def revoke_token(request: AuthedRequest, token_id: int) -> HttpResponse:
    if tokens.revoke_token(request.user, token_id):
        messages.success(request, _("Token revoked."))
    else:
        messages.error(request, _("No such active token."))
    return redirect("accounts:profile")


@require_http_methods(["GET", "POST"])
def messenger_link(request: HttpRequest, code: str) -> HttpResponse:
    """The one-time link a messenger bot offers: GET shows whose messenger account it is,
    POST links it to the signed-in account (a GET alone never links: link previews and
    scanners open links too)."""
    try:
        row = messenger.pending(code)
    except messenger.LinkError as exc:
        return render(request, "accounts/messenger_link.html", {"error": str(exc)}, status=400)
    if request.method == "POST":
        try:
            identity = messenger.claim(request.user, code)
        except messenger.LinkError as exc:
            return render(request, "accounts/messenger_link.html", {"error": str(exc)}, status=400)
        messages.success(
            request,
            _("%(kind)s account %(name)s is linked: ask the bot again.")
            % {
                "kind": identity.get_kind_display(),
                "name": identity.external_name or identity.external_id,
            },
        )
        return redirect("accounts:profile")
    return render(request, "accounts/messenger_link.html", {"row": row, "code": code})


@require_POST
def messenger_unlink(request: HttpRequest, identity_id: int) -> HttpResponse:
    if messenger.unlink(request.user, identity_id):
        messages.success(request, _("Messenger account unlinked."))
    else:
        messages.error(request, _("No such linked messenger account."))
    return redirect("accounts:profile")
