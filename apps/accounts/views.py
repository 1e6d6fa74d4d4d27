"""Sign-in, sign-out and the profile page with personal API tokens."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from apps.accounts import tokens
from apps.accounts.forms import LoginForm, TokenForm
from apps.accounts.roles import user_group_names


@method_decorator(login_not_required, name="dispatch")
class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True
    http_method_names = ["get", "post"]


class LogoutView(auth_views.LogoutView):
    http_method_names = ["post"]


@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    new_token = None
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        _row, new_token = tokens.create_token(request.user, form.cleaned_data["name"])
        form = TokenForm()
    context = {
        "groups": user_group_names(request.user),
        "tokens": request.user.api_tokens.all(),  # type: ignore[union-attr]
        "form": form,
        "new_token": new_token,
    }
    return render(request, "accounts/profile.html", context)


@require_POST
def revoke_token(request: HttpRequest, token_id: int) -> HttpResponse:
    if tokens.revoke_token(request.user, token_id):
        messages.success(request, _("Token revoked."))
    else:
        messages.error(request, _("No such active token."))
    return redirect("accounts:profile")
