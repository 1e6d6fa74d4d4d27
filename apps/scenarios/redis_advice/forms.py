"""The admin form of a Redis target (common fields: engine/targets.py): the URL checked, the
portal's own Redis refused, the sample bounds; and the Redis page's form."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext as gettext_now
from django.utils.translation import gettext_lazy as _

from apps.scenarios.engine.base import InputError
from apps.scenarios.engine.forms import Input, ScenarioForm
from apps.scenarios.engine.targets import TargetForm
from apps.scenarios.redis_advice.actions import connection, usable_by
from apps.scenarios.redis_advice.models import RedisTarget
from apps.scenarios.redis_advice.target import is_portal_redis, parse_url


class RedisTargetForm(TargetForm):
    model = RedisTarget

    url = forms.CharField(
        label=_("URL"),
        max_length=500,
        help_text=_(
            "redis://host:6379/0, or rediss:// for TLS; a user name may go before the host."
        ),
    )
    max_keys = forms.IntegerField(
        label=_("Keys sampled at most"), min_value=0, max_value=1_000_000, initial=100_000
    )
    scan_seconds = forms.FloatField(
        label=_("Sampling time at most (seconds)"), min_value=0.1, max_value=30, initial=0.5
    )

    def clean_url(self) -> str:
        try:
            target = parse_url(self.cleaned_data["url"])
        except InputError as exc:
            raise forms.ValidationError(exc.message) from None
        if target.password:
            raise forms.ValidationError(
                _("Put the password in the Password field, not in the URL.")
            )
        if is_portal_redis(target):
            raise forms.ValidationError(
                _(
                    "This is the portal's own Redis: its key names include session ids, so it is not offered as a target."
                )
            )
        return target.display()


class RedisAdviceForm(ScenarioForm):
    """The Redis page: paste redis-cli output, or pick a Redis target the user may read, which
    is then collected at once with read-only commands."""

    target = forms.ModelChoiceField(
        label=_("Or read a Redis target"),
        queryset=RedisTarget.objects.none(),
        required=False,
        help_text=_("Collected now with read-only commands; the input box is then not read."),
    )

    def __init__(self, *args: Any, user: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, user=user, **kwargs)
        field = self.fields["target"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = usable_by(user) if user is not None else RedisTarget.objects.none()

    def params(self) -> dict[str, Any]:
        target = self.cleaned_data.get("target")
        return {"target": target.name} if target else {}

    def clean(self) -> dict[str, Any]:
        target = self.cleaned_data.get("target")
        if not target:
            return super().clean()
        from apps.knowledge.crypto import SecretsUnreadable
        from apps.scenarios.redis_advice import collect

        try:
            snap = collect.snapshot(
                connection(target), max_keys=target.max_keys, seconds=target.scan_seconds
            )
        except (collect.Unreachable, SecretsUnreadable, InputError) as exc:
            message = gettext_now("%(name)s cannot be read: %(error)s")
            self.add_error("target", message % {"name": target.name, "error": exc})
            return self.cleaned_data
        self.input = Input(snap.to_json(), "system", name=target.name, params=self.params())
        return self.cleaned_data
