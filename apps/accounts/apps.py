from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "apps.accounts"
    label = "accounts"
    verbose_name = _("Accounts")

    def ready(self) -> None:
        from apps.accounts import console_nav, signals  # noqa: F401  (connects receivers)

        console_nav.register(_("Overview"), "console:index", order=0)
        console_nav.register(_("Users and groups"), "console:users", order=10)
        console_nav.register(_("Sign-in lockouts"), "console:lockouts", order=85)
        console_nav.register(_("Audit log"), "console:audit", order=90)
