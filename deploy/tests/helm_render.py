"""Run Helm's own engine on the chart in deploy/helm/opsdesk and read what it renders.

There is no `helm` binary to install here, but helm-sdkpy (PyPI) bundles the Helm v4 Go
library. It exposes `helm lint` (no `template`), which renders every template with the
chart's values.yaml and checks the result. Two things make that enough:

- Values: a run lints a temporary copy of the chart whose values.yaml is the defaults with
  the given overrides merged in the way `helm -f` merges a values file (maps merge key by
  key, anything else replaces, null deletes).
- Output: in lint mode Helm logs a `fail` call's message instead of stopping. One extra
  template in the copy renders each chart template through Helm's `include` and passes the
  text to `fail`; the log line carries the rendered manifests. Messages of the chart's own
  `fail` checks (values it refuses) come out the same way, without the marker.
"""

from __future__ import annotations

import ast
import copy
import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

CHART = Path(__file__).resolve().parents[1] / "helm" / "opsdesk"
NAMESPACE = "opsdesk"
DUMP_MARKER = "opsdesk-render-dump "
SEVERITY = {1: "info", 2: "warning", 3: "error"}

_LINT = """
import asyncio, json, sys
import helm_sdkpy
config = helm_sdkpy.Configuration(namespace=sys.argv[2])
print(json.dumps(asyncio.run(helm_sdkpy.Lint(config).run(sys.argv[1]))))
"""
_FAIL_LINE = re.compile(r"funcMap fail message=(?P<msg>\".*\"|\S*)\s*$")
_REQUIRED_LINE = re.compile(r"missing required value message=(?P<msg>\".*\"|\S*)\s*$")


def merge_values(base: Any, override: Any) -> Any:
    """What `helm -f override.yaml` does to the chart's values."""
    if not isinstance(base, dict) or not isinstance(override, dict):
        return copy.deepcopy(override)
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_values(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def default_values() -> dict[str, Any]:
    return yaml.safe_load((CHART / "values.yaml").read_text())


def production_values() -> dict[str, Any]:
    return yaml.safe_load((CHART / "values-production.yaml").read_text())


@dataclass
class Render:
    """One lint run: Helm's findings, the chart's refusals, and the rendered manifests."""

    findings: list[tuple[str, str]]  # (severity, path) of warnings and errors
    refusals: list[str]  # messages of the chart's own `fail`/`required`
    files: dict[str, str]  # template file name -> rendered text
    log: str
    docs: list[dict[str, Any]] = field(default_factory=list)

    def objects(self, kind: str, component: str | None = None) -> list[dict[str, Any]]:
        found = [d for d in self.docs if d.get("kind") == kind]
        if component is not None:
            found = [d for d in found if label(d, "app.kubernetes.io/component") == component]
        return found

    def one(self, kind: str, component: str | None = None) -> dict[str, Any]:
        found = self.objects(kind, component)
        assert len(found) == 1, f"expected one {kind} {component or ''}, found {len(found)}"
        return found[0]


def label(obj: dict[str, Any], key: str) -> str | None:
    return (obj.get("metadata", {}).get("labels") or {}).get(key)


def pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    if obj["kind"] == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return obj["spec"]["template"]["spec"]


def pod_labels(obj: dict[str, Any]) -> dict[str, str]:
    spec = obj["spec"]["jobTemplate"]["spec"] if obj["kind"] == "CronJob" else obj["spec"]
    return spec["template"]["metadata"]["labels"]


def container(obj: dict[str, Any], name: str | None = None) -> dict[str, Any]:
    return next(c for c in pod_spec(obj)["containers"] if name in (None, c["name"]))


def _unquote(raw: str) -> str:
    # slog quotes the message like Go's strconv.Quote; Python's literal syntax reads it.
    return ast.literal_eval(raw) if raw.startswith('"') else raw


def render(work: Path, overrides: dict[str, Any] | None = None) -> Render:
    """Lint a copy of the chart under `work` with values.yaml + overrides, and dump it."""
    chart = work / "opsdesk"
    if chart.exists():
        shutil.rmtree(chart)
    shutil.copytree(CHART, chart)
    values = merge_values(default_values(), overrides or {})
    (chart / "values.yaml").write_text(yaml.safe_dump(values, sort_keys=False))
    names = sorted(p.name for p in (CHART / "templates").iterdir() if p.suffix in (".yaml", ".txt"))
    listed = " ".join(json.dumps(n) for n in names)
    # Lint renders with no namespace and revision 0; an install says `-n opsdesk`.
    (chart / "templates" / "zz-render-dump.yaml").write_text(
        f'{{{{- $_ := set $.Release "Namespace" "{NAMESPACE}" -}}}}\n'
        '{{- $_ := set $.Release "Revision" 1 -}}\n'
        "{{- range $f := list " + listed + " -}}\n"
        '{{- fail (printf "' + DUMP_MARKER + '%s\\n%s" $f '
        '(include (print $.Template.BasePath "/" $f) $)) -}}\n'
        "{{- end -}}\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", _LINT, str(chart), NAMESPACE],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"helm lint did not run: {result.stderr[-2000:]}"
    report = json.loads(result.stdout.strip().splitlines()[-1])
    findings = [
        (SEVERITY.get(m["Severity"], str(m["Severity"])), m["Path"])
        for m in report.get("Messages") or []
        if m["Severity"] >= 2
    ]
    files: dict[str, str] = {}
    refusals: list[str] = []
    for line in result.stderr.splitlines():
        if m := _FAIL_LINE.search(line):
            message = _unquote(m["msg"])
            if message.startswith(DUMP_MARKER):
                name, _, text = message[len(DUMP_MARKER) :].partition("\n")
                files[name] = text
            elif message not in refusals:
                refusals.append(message)
        elif m := _REQUIRED_LINE.search(line):
            refusals.append(_unquote(m["msg"]))
    out = Render(findings, refusals, files, result.stderr)
    for name, text in files.items():
        if name.endswith(".yaml"):
            try:
                out.docs.extend(d for d in yaml.safe_load_all(text) if d)
            except yaml.YAMLError as exc:
                raise AssertionError(f"{name} renders invalid YAML: {exc}\n{text}") from None
    return out
