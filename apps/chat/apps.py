from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ChatConfig(AppConfig):
    name = "apps.chat"
    label = "chat"
    verbose_name = _("Chat")

    def ready(self) -> None:
        from apps.accounts import console_nav

        console_nav.register(_("Feedback"), "chat_console:feedback", order=70)
