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


class LockoutForm(forms.Form):
    """Which lockout to lift: exactly the user name and address the console listed."""

    username = forms.CharField(max_length=255, required=False, strip=False)
    ip = forms.GenericIPAddressField(unpack_ipv4=True)
