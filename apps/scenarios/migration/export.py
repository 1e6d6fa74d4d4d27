"""A checklist run as Markdown: the path, the findings, then every step with its pre-check,
action, verification, rollback and source, ticked as the reading user ticked it."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from apps.scenarios.migration.models import StepProgress

MARKS = {"done": "x", "skipped": "-", "blocked": "!"}


def _fence(text: str) -> str:
    ticks = "```"
    while ticks in text:
        ticks += "`"
    return f"{ticks}\n{text}\n{ticks}"


def markdown(
    run: Any, progress: dict[str, StepProgress], kb: dict[str, dict[str, str]] | None = None
) -> str:
    facts = run.facts or {}
    product = {"rabbitmq": "RabbitMQ", "opensearch": "OpenSearch"}.get(
        str(facts.get("product") or ""), ""
    )
    lines = [
        "# "
        + _("Migration checklist: %(product)s %(path)s")
        % {"product": product, "path": facts.get("path", "")},
        "",
    ]
    live = facts.get("live") or {}
    if live:
        lines += [
            _("Read from %(where)s: %(what)s")
            % {
                "where": live.get("url") or live.get("node") or "",
                "what": ", ".join(
                    f"{k}={v}"
                    for k, v in live.items()
                    if k in ("version", "erlang", "status", "manager")
                ),
            },
            "",
        ]
    if run.findings:
        lines += ["## " + _("Findings"), ""]
        for f in run.findings:
            where = (
                f" ({f.get('where')}{':' + str(f['line']) if f.get('line') else ''})"
                if f.get("where")
                else ""
            )
            lines.append(f"- **{f.get('severity')}** {f.get('message')}{where}")
            if f.get("evidence"):
                lines.append(f"  - `{str(f['evidence']).replace('`', "'")}`")
            if f.get("fix"):
                lines.append("  - " + _("Fix: %(fix)s") % {"fix": f["fix"]})
        lines.append("")
    phases = {"prepare": _("Prepare"), "upgrade": _("Upgrade"), "after": _("After the upgrade")}
    for phase, title in phases.items():
        steps = [s for s in facts.get("steps", []) if s.get("phase") == phase]
        if not steps:
            continue
        lines += [f"## {title}", ""]
        for n, step in enumerate(steps, start=1):
            row = progress.get(step["id"])
            mark = MARKS.get(row.state, " ") if row else " "
            hop = f" ({step['hop']})" if step.get("hop") else ""
            lines.append(f"- [{mark}] **{n}. {step['title']}**{hop}")
            if row and row.state != "done":
                state = str(StepProgress.State(row.state).label)
                lines.append(f"  - *{state}*" + (f": {row.note}" if row.note else ""))
            if step.get("blocked"):
                lines.append("  - " + _("Blocked: %(why)s") % {"why": step["blocked"]})
            pre = step.get("precheck", {})
            body = [
                "**" + _("Pre-check") + "**",
                _fence(pre.get("command", "")),
                _("Expected: %(expect)s") % {"expect": pre.get("expect", "")},
                "",
                "**" + _("Action") + "**",
                _fence(step.get("action", "")),
                "**" + _("Verification") + "**",
                _fence(step.get("verify", "")),
                "**" + _("Rollback") + "**: " + step.get("rollback", ""),
            ]
            for detail in step.get("details") or []:
                body.append(f"- {detail}")
            cite = step.get("cite") or {}
            if cite.get("url"):
                section = f" — {cite['section']}" if cite.get("section") else ""
                body.append(
                    _("Source: [%(title)s](%(url)s)%(section)s") % {**cite, "section": section}
                )
            doc = (kb or {}).get(str(cite.get("path") or ""))
            if doc:
                where = f"{doc['source']} › {doc['title']}"
                body.append(
                    _("In the knowledge base: %(doc)s")
                    % {"doc": f"[{where}]({doc['link']})" if doc["link"] else where}
                )
            lines += ["", *("  " + b if b else "" for b in "\n".join(body).split("\n")), ""]
    if run.answer:
        lines += ["## " + _("Explanation"), "", run.answer, ""]
    return "\n".join(lines).rstrip() + "\n"
