from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _


class LoginForm(AuthenticationForm):
    error_messages = {
        "invalid_login": _(
            "Wrong username or password. Repeated failures lock the account for a while."
        ),
        "inactive": _("This account is disabled."),
    }


class TokenForm(forms.Form):
    name = forms.CharField(label=_("Token name"), max_length=100)
