"""The post-mortem template (admin-editable per language, with Russian and English defaults)
and a draft filled from a run's merged timeline.

Placeholders: {title} {incident} {date} {durations} {timeline} {action_items}. The sections
the timeline cannot know (impact, root cause) are left for the author, marked TODO.
"""

from __future__ import annotations

from typing import Any

DEFAULTS = {
    "ru": """# {title}

| Поле | Значение |
|---|---|
| Инцидент | {incident} |
| Дата | {date} |

## Кратко

TODO: что случилось, в двух-трёх предложениях.

## Влияние

TODO: кого и насколько затронуло.

{durations}

## Хронология

{timeline}

## Причины

TODO: первопричина и способствующие факторы.

## Устранение

TODO: что сделали, чтобы остановить влияние.

## Задачи (action items)

{action_items}
""",
    "en": """# {title}

| Field | Value |
|---|---|
| Incident | {incident} |
| Date | {date} |

## Summary

TODO: what happened, in two or three sentences.

## Impact

TODO: who was affected and how much.

{durations}

## Timeline

{timeline}

## Root cause

TODO: the root cause and contributing factors.

## Mitigation

TODO: what was done to stop the impact.

## Action items

{action_items}
""",
}
LABELS = {
    "ru": {
        "time_to_detect": "Время до обнаружения",
        "time_to_acknowledge": "Время до реакции",
        "time_to_mitigate": "Время до устранения влияния",
        "time_to_resolve": "Время до решения",
        "time": "Время (UTC)",
        "event": "Событие",
        "none": "— (задачи не найдены)",
        "owner": "ответственный",
        "due": "срок",
    },
    "en": {
        "time_to_detect": "Time to detect",
        "time_to_acknowledge": "Time to acknowledge",
        "time_to_mitigate": "Time to mitigate",
        "time_to_resolve": "Time to resolve",
        "time": "Time (UTC)",
        "event": "Event",
        "none": "— (no action items found)",
        "owner": "owner",
        "due": "due",
    },
}


def template_for(language: str) -> str:
    from apps.scenarios.postmortem.models import PostmortemTemplate

    lang = "en" if language.startswith("en") else "ru"
    row = PostmortemTemplate.objects.filter(language=lang).first()
    return row.body if row and row.body.strip() else DEFAULTS[lang]


def _minutes(seconds: Any) -> str:
    return "—" if seconds is None else f"{round(int(seconds) / 60)} min"


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def fill(facts: dict[str, Any], language: str, title: str, incident: str = "") -> str:
    lang = "en" if language.startswith("en") else "ru"
    words = LABELS[lang]
    spans = facts.get("durations") or {}
    durations = "\n".join(f"- {words[k]}: {_minutes(spans.get(k))}" for k in words if k in spans)
    rows = [f"| T | {words['time']} | {words['event']} |", "|---|---|---|"]
    for entry in facts.get("timeline") or []:
        who = f"{entry['author']}: " if entry.get("author") else ""
        at = str(entry.get("at", ""))[:19].replace("T", " ")
        rows.append(f"| T{entry.get('n')} | {at} | {_cell(who + str(entry.get('text', '')))} |")
    items = []
    for item in facts.get("action_items") or []:
        extra = []
        if item.get("owner"):
            extra.append(f"{words['owner']}: {item['owner']}")
        if item.get("due"):
            extra.append(f"{words['due']}: {item['due']}")
        tail = f" ({', '.join(extra)})" if extra else ""
        items.append(f"- [ ] {item.get('text', '')}{tail} [T{item.get('entry')}]")
    values = {
        "title": title,
        "incident": incident or "—",
        "date": str(facts.get("started", ""))[:10],
        "durations": durations,
        "timeline": "\n".join(rows),
        "action_items": "\n".join(items) or words["none"],
    }
    out = template_for(lang)
    for key, value in values.items():
        out = out.replace("{" + key + "}", value)
    return out
