"""Redis performance: INFO, SLOWLOG, LATENCY and MEMORY output (pasted, or collected from a
Redis target with read-only commands) turned into findings with the figure and the fix."""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from typing import Any, ClassVar

from django.utils.translation import gettext_lazy as _

from apps.scenarios.engine import registry
from apps.scenarios.engine.base import Analysis, InputError, Scenario, check_size, read_input_file


class RedisAdvice(Scenario):
    slug = "redis-advice"
    title = _("Redis performance")
    summary = _("INFO and SLOWLOG output turned into concrete advice.")
    instruction: ClassVar[str] = (
        "Explain the Redis findings below to the engineer, most severe first: what each figure "
        "shows, why it hurts latency, memory or durability, and the fix given, in the order "
        "to apply it. Quote the figures as given. Do not add problems that are not in the "
        "findings, and never suggest KEYS, FLUSHALL or DEBUG commands."
    )

    input_help = _(
        "redis-cli output: INFO ALL, SLOWLOG GET 128, LATENCY LATEST, LATENCY DOCTOR, MEMORY "
        "STATS, CONFIG GET maxmemory*, with or without the prompts; or pick a Redis target."
    )

    def analyze(self, text: str, params: Mapping[str, Any]) -> Analysis:
        from apps.scenarios.redis_advice import advice, parse

        return advice.analysis(parse.parse(check_size(text)))

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        from apps.scenarios.redis_advice import collect

        parser.add_argument(
            "file", nargs="?", default=None, help="pasted redis-cli output, or - for stdin"
        )
        parser.add_argument(
            "--redis-url",
            help="collect from this instance instead (redis:// or rediss://; the password may "
            "also come from REDISCLI_AUTH)",
        )
        parser.add_argument(
            "--max-keys",
            type=int,
            default=collect.DEFAULT_MAX_KEYS,
            help="at most this many keys sampled for big keys",
        )
        parser.add_argument(
            "--scan-seconds",
            type=float,
            default=collect.DEFAULT_SECONDS,
            help="at most this long sampling big keys",
        )

    def cli_input(self, options: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        url = options.get("redis_url")
        if not url:
            return read_input_file(options.get("file")), {}
        from dataclasses import replace

        from apps.scenarios.redis_advice import collect, target

        where = target.parse_url(url, field="redis-url")
        if not where.password and os.environ.get("REDISCLI_AUTH"):
            where = replace(where, password=os.environ["REDISCLI_AUTH"])
        try:
            snap = collect.snapshot(
                where,
                max_keys=max(0, int(options.get("max_keys") or 0)),
                seconds=max(0.0, float(options.get("scan_seconds") or 0.0)),
            )
        except collect.Unreachable as exc:
            raise InputError(f"cannot read the instance: {exc}", field="redis-url") from None
        return snap.to_json(), {}


def _form() -> None:
    # The form imports models: set when the app registry is ready (discover() runs in ready()).
    from apps.scenarios.redis_advice.forms import RedisAdviceForm

    RedisAdvice.form_class = RedisAdviceForm


registry.register(RedisAdvice())
_form()


def _console() -> None:
    from apps.accounts import console_nav

    console_nav.register(_("Redis targets"), "redis_targets:list", order=36)


_console()
