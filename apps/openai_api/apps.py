from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OpenAIApiConfig(AppConfig):
    """The portal as an OpenAI-compatible API (/v1). Nothing imports this app: it only
    calls the public functions of inference and knowledge, as any other client would."""

    name = "apps.openai_api"
    label = "openai_api"
    verbose_name = _("OpenAI-compatible API")
