"""The product's own config files, read into (key, value, line) settings.

- rabbitmq.conf: the new-style sysctl format (`key = value`, `#` comments), keys kept as
  written (cuttlefish refuses unknown keys at boot, so a removed key stops the node).
- advanced.config: Erlang terms (erlang_terms.py, parsed, never evaluated).
- opensearch.yml: YAML, nested or dotted keys, flattened to dotted keys with their lines;
  guarded against alias bombs and deep nesting before it is composed (engine/yamlsafe.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml
from django.utils.translation import gettext as _

from apps.scenarios.engine import yamlsafe
from apps.scenarios.engine.base import InputError
from apps.scenarios.migration import erlang_terms

_CONF_LINE = re.compile(r"([A-Za-z0-9_.$\-]+)\s*=\s*(.*)")


@dataclass(frozen=True)
class Setting:
    key: str
    value: str
    line: int
    file: str

    def evidence(self) -> str:
        return (
            f"{self.key} = {self.value}"
            if self.file != "opensearch.yml"
            else f"{self.key}: {self.value}"
        )


def looks_like_erlang(text: str) -> bool:
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("%"):
            continue
        return line.startswith("[")
    return False


def rabbitmq_conf(text: str) -> list[Setting]:
    out: list[Setting] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _CONF_LINE.fullmatch(line)
        if not match:
            raise InputError(
                _("not a rabbitmq.conf line (expected key = value): %(line)r")
                % {"line": line[:80]},
                line=number,
                field="text",
            )
        value = match.group(2).split(" #", 1)[0].strip()
        out.append(Setting(match.group(1), value, number, "rabbitmq.conf"))
    return out


def advanced_config(text: str) -> list[Setting]:
    term = erlang_terms.parse(text)
    out: list[Setting] = []
    for item in erlang_terms.settings(term):
        value = erlang_terms.plain(item.value)
        shown = value if isinstance(value, str | int | float) else _short(value)
        out.append(Setting(".".join(item.path), str(shown), item.line, "advanced.config"))
    return out


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 200 else text[:197] + "..."


def opensearch_yml(text: str) -> list[Setting]:
    docs = yamlsafe.load(text)
    out: list[Setting] = []
    if not docs:
        return out
    root = docs[0]
    if not yamlsafe.is_map(root):
        raise InputError(
            _("opensearch.yml must be a mapping of settings"),
            line=yamlsafe.line_of(root),
            field="text",
        )

    def walk(node: yaml.Node, prefix: str) -> None:
        for key, knode, value in yamlsafe.items(node):
            name = f"{prefix}.{key}" if prefix else key
            if yamlsafe.is_map(value):
                walk(value, name)
            elif yamlsafe.is_seq(value):
                shown = ", ".join(yamlsafe.text(v) or "…" for v in yamlsafe.seq(value))
                out.append(Setting(name, f"[{shown}]", yamlsafe.line_of(knode), "opensearch.yml"))
            else:
                out.append(
                    Setting(
                        name, yamlsafe.text(value) or "", yamlsafe.line_of(knode), "opensearch.yml"
                    )
                )

    walk(root, "")
    return out
