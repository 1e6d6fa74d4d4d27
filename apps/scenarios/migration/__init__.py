"""Migration checklist: a RabbitMQ or OpenSearch upgrade from one version to another, checked
against the vendors' upgrade paths, with the config files read for settings the target
refuses, and a checklist whose every step has a pre-check, the action, a verification, a
rollback and the guide it follows. The live system, when an admin configured it, is read
with read-only calls and its state turned into findings that block steps."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any, ClassVar

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from apps.scenarios.engine import registry
from apps.scenarios.engine.base import (
    Analysis,
    InputError,
    Scenario,
    check_size,
    read_input_file,
)


def _versions(raw: Any) -> list[str]:
    if isinstance(raw, str):
        return [v for v in (p.strip() for p in raw.replace(";", ",").split(",")) if v]
    return [str(v).strip() for v in raw or () if str(v).strip()]


def request(text: str, params: Mapping[str, Any]) -> Any:
    from apps.scenarios.migration import plan, versions

    product = str(params.get("product") or "").strip().lower()
    if not product:
        raise InputError(gettext("choose a product: rabbitmq or opensearch"), field="product")
    through = [versions.parse(v, field="through") for v in _versions(params.get("through"))]
    return plan.Request(
        product=product,
        source=versions.parse(str(params.get("from_version") or ""), field="from_version"),
        target=versions.parse(str(params.get("to_version") or ""), field="to_version"),
        through=through,
        config=check_size(text or ""),
        advanced_config=check_size(str(params.get("advanced_config") or "")),
        plugins=check_size(str(params.get("plugins") or "")),
        index_settings=check_size(str(params.get("index_settings") or "")),
        live=params.get("live") or None,
    )


class Migration(Scenario):
    slug = "migration"
    title = _("Migration checklist")
    summary = _(
        "RabbitMQ or OpenSearch upgrade: the supported path, settings and plugins to change, and a checklist with pre-checks and rollback."
    )
    instruction: ClassVar[str] = (
        "Explain the upgrade checklist below to the engineer who will run it: why the path goes "
        "through the versions given, what each finding means for this upgrade and which step "
        "handles it, and what to watch during the rolling upgrade. Quote versions, settings and "
        "commands exactly as given, cite the upgrade guides and release notes. Do not add "
        "steps, versions or problems that are not in the checklist."
    )
    input_help = _(
        "Optional: the product's config file (rabbitmq.conf or opensearch.yml); it is read for settings the target version deprecates or refuses."
    )

    def analyze(self, text: str, params: Mapping[str, Any]) -> Analysis:
        from apps.scenarios.migration import plan

        return plan.build(request(text, params))

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "file", nargs="?", default=None, help="rabbitmq.conf or opensearch.yml (optional)"
        )
        parser.add_argument("--product", required=True, choices=("rabbitmq", "opensearch"))
        parser.add_argument("--from", dest="from_version", required=True, help="current version")
        parser.add_argument("--to", dest="to_version", required=True, help="target version")
        parser.add_argument(
            "--through",
            action="append",
            default=[],
            help="an intermediate version to upgrade through (repeat, in order)",
        )
        parser.add_argument("--advanced-config", help="RabbitMQ advanced.config")
        parser.add_argument(
            "--plugins", help="OpenSearch: output of bin/opensearch-plugin list or _cat/plugins"
        )
        parser.add_argument(
            "--index-settings",
            help="OpenSearch: JSON of GET _all/_settings/index.version.created?flat_settings=true",
        )
        parser.add_argument(
            "--rabbitmq-url",
            help="read a live node through its management API (http(s)://host:15672); the "
            "user and password from RABBITMQ_USER and RABBITMQ_PASSWORD",
        )
        parser.add_argument(
            "--opensearch-live",
            action="store_true",
            help="read _cluster/health, _cat/nodes and _nodes/settings from OPENSEARCH_URL",
        )

    def cli_input(self, options: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        params: dict[str, Any] = {
            "product": options.get("product"),
            "from_version": options.get("from_version"),
            "to_version": options.get("to_version"),
            "through": list(options.get("through") or []),
        }
        for key in ("advanced_config", "plugins", "index_settings"):
            if options.get(key):
                params[key] = read_input_file(options[key])
        text = read_input_file(options["file"]) if options.get("file") else ""
        if options.get("rabbitmq_url"):
            from apps.scenarios.migration import live

            params["live"] = live.from_cli(str(options["rabbitmq_url"]))
        elif options.get("opensearch_live"):
            from apps.scenarios.migration import live_opensearch

            params["live"] = live_opensearch.read()
        return text, params


def _form() -> None:
    # The form imports models: set when the app registry is ready (discover() runs in ready()).
    from apps.scenarios.migration.forms import MigrationForm

    Migration.form_class = MigrationForm


registry.register(Migration())
_form()


def _console() -> None:
    from apps.accounts import console_nav

    console_nav.register(_("RabbitMQ targets"), "rabbit_targets:list", order=37)


_console()
