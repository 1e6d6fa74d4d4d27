"""The checklist: from a product, its current and target versions (and the releases in
between the user says they go through), its config files and, optionally, what a live
pre-check read. The path is checked against the rule table first: a hop the vendor does not
support is refused with the release to go through, as the vendors' guides say it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext as _

from apps.scenarios.engine.base import Analysis, InputError
from apps.scenarios.engine.findings import Finding, Severity
from apps.scenarios.migration import opensearch, rabbitmq, versions
from apps.scenarios.migration.steps import Step
from apps.scenarios.migration.versions import Version

PRODUCTS = {"rabbitmq": "RabbitMQ", "opensearch": "OpenSearch"}


@dataclass
class Request:
    product: str
    source: Version
    target: Version
    through: list[Version] = field(default_factory=list)
    config: str = ""  # rabbitmq.conf / opensearch.yml (or advanced.config pasted alone)
    advanced_config: str = ""
    plugins: str = ""
    index_settings: str = ""
    live: Mapping[str, Any] | None = None  # what a live pre-check read (live.py)


@dataclass
class Plan:
    """What the product modules add to: findings, steps, grounding terms."""

    request: Request
    hops: list[tuple[Version, Version]]
    findings: list[Finding] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    grounding: list[str] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)

    def add(self, finding: Finding) -> None:
        self.findings.append(finding)

    def step(self, step: Step) -> Step:
        used = {s.id for s in self.steps}
        base, n = step.id, 2
        while step.id in used:  # one id per step: progress is stored against it
            step.id = f"{base}-{n}"
            n += 1
        self.steps.append(step)
        return step


def no_path_message(product: str, source: Version, target: Version, through: Sequence[str]) -> str:
    names = _(", then ").join(through)
    return _(
        "%(product)s %(source)s → %(target)s has no direct path; upgrade through %(through)s first"
    ) % {
        "product": PRODUCTS[product],
        "source": source,
        "target": target,
        "through": names,
    }


def hops_of(request: Request) -> list[tuple[Version, Version]]:
    """The upgrade hops, each one supported, or InputError naming what is missing."""
    table = rabbitmq.HOPS if request.product == "rabbitmq" else opensearch.HOPS
    chain = [request.source, *request.through, request.target]
    for i, (a, b) in enumerate(zip(chain, chain[1:], strict=False)):
        if b < a or (b == a and not b.any_minor):
            what = "through" if i < len(chain) - 2 else "to_version"
            raise InputError(
                _(
                    "%(target)s is not later than %(source)s: downgrades are not supported; restore a backup or snapshot of the old version instead"
                )
                % {"source": a, "target": b},
                field=what,
            )
        through = versions.route(table, a, b)
        if through is None:
            raise InputError(
                _("%(product)s %(source)s → %(target)s: no supported upgrade path is known")
                % {"product": PRODUCTS[request.product], "source": a, "target": b},
                field="to_version",
            )
        if through:
            raise InputError(no_path_message(request.product, a, b, through), field="to_version")
    return list(zip(chain, chain[1:], strict=False))


def build(request: Request) -> Analysis:
    if request.product not in PRODUCTS:
        raise InputError(
            _("unknown product %(name)r; available: %(known)s")
            % {"name": request.product, "known": ", ".join(PRODUCTS)},
            field="product",
        )
    plan = Plan(request, hops_of(request))
    if request.product == "rabbitmq":
        from apps.scenarios.migration import plan_rabbitmq as product
    else:
        from apps.scenarios.migration import plan_opensearch as product  # type: ignore[no-redef]
    product.build(plan)
    path = " → ".join(str(v) for v in [request.source, *request.through, request.target])
    plan.add(
        Finding(
            Severity.INFO,
            "migration.path",
            _("Upgrade path: %(product)s %(path)s (%(n)d steps in the checklist).")
            % {"product": PRODUCTS[request.product], "path": path, "n": len(plan.steps)},
            refs=tuple(dict.fromkeys(s.cite.title for s in plan.steps))[:6],
        )
    )
    facts = {
        "product": request.product,
        "from": str(request.source),
        "to": str(request.target),
        "through": [str(v) for v in request.through],
        "path": path,
        "blocked": any(s.blocked for s in plan.steps),
        "steps": [s.to_dict() for s in plan.steps],
        **plan.facts,
    }
    return Analysis(plan.findings, facts, list(dict.fromkeys(plan.grounding)))


def severity(fatal: bool) -> Severity:
    return Severity.ERROR if fatal else Severity.WARNING


def matches(rule_key: str, key: str) -> bool:
    return key.startswith(rule_key) if rule_key.endswith(".") else key == rule_key
