"""A question in Russian or English read into an Intent, without any model.

Recognizers run in a fixed order, each taking the words it understands (scan.py): quoted
phrases, explicit `field:value`, trace ids and addresses, the time range, grouping ("top 10
services", "по сервисам"), a date histogram ("по часам"), metrics ("p95 latency"), counting,
HTTP status codes, durations, severities, methods, paths, named services/hosts/namespaces/pods/
users, exception classes, common problem words ("таймауты"), "containing …" texts, and how many
of the latest hits to show. Words nobody took are reported: the query is then partial, and the
model may do better.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from apps.scenarios.opensearch_dsl import timeparse
from apps.scenarios.opensearch_dsl.concepts import DIMENSIONS, LEVEL_WORDS, LEVELS, PROBLEMS
from apps.scenarios.opensearch_dsl.mapping import IndexFields
from apps.scenarios.opensearch_dsl.scan import STOP_WORDS, Scan

NEGATIONS = {
    "except",
    "excluding",
    "exclude",
    "not",
    "without",
    "non",
    "кроме",
    "не",
    "без",
    "исключая",
}
_NAME = r"[a-z0-9][\w.@-]*"
_CONNECT = r"\s*(?:,|\band\b|\bor\b|\bи\b|\bили\b)\s*"
# Words that follow "service"/"host" but are not a name.
_STOP_VALUES = frozenset(
    {"the", "a", "an", "and", "or", "with", "for", "in", "on", "at", "from", "to", "by", "is"}
    | {"и", "или", "с", "в", "на", "по", "за", "из", "к", "от", "до", "errors", "ошибки", "logs"}
    | {"логи", "service", "сервис", "host", "хост", "that", "which", "которые", "где"}
)
_TEXT_STOP = STOP_WORDS - {"not", "no"} | {"since", "last", "past", "за", "после"}


@dataclass
class Filter:
    """A condition on one concept's field (or a field the question named)."""

    concept: str  # a concepts.CONCEPTS key, or "" with `field` set
    op: str  # term, terms, range, prefix, exists
    values: list[Any] = field(default_factory=list)
    bounds: dict[str, Any] = field(default_factory=dict)
    negate: bool = False
    words: str = ""
    field: str = ""  # an explicit field from `field:value`
    unit: str = ""  # for durations: the unit the bounds are in (ms)


@dataclass
class TextMatch:
    text: str
    phrase: bool
    negate: bool = False
    words: str = ""
    field: str = ""


@dataclass
class Intent:
    question: str
    time: timeparse.TimeRange | None = None
    filters: list[Filter] = field(default_factory=list)
    texts: list[TextMatch] = field(default_factory=list)
    group_by: list[tuple[str, int]] = field(default_factory=list)  # (concept, size)
    histogram: str = ""  # interval, "auto", or ""
    metric: tuple[str, str, float] | None = None  # (avg|max|percentiles, concept, percent)
    count: bool = False
    size: int | None = None
    order: str = ""  # desc (latest first) or asc
    leftover: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (
            self.time
            or self.filters
            or self.texts
            or self.group_by
            or self.histogram
            or self.metric
            or self.count
            or self.size
        )


_NEGATION = re.compile(
    r"(?<![\w])(?:"
    + "|".join(sorted(NEGATIONS, key=len, reverse=True))
    + r")(?:\s+[\w-]+){0,2}\s*$"
)


def _negated(scan: Scan, start: int) -> bool:
    """Whether a negation word ("кроме", "except", "не") stands just before `start`; the
    word is taken, it has been understood."""
    m = _NEGATION.search(scan.low[:start])
    if m is None:
        return False
    word = re.match(r"[\w-]+", scan.low[m.start() :])
    end = m.start() + (word.end() if word else 0)
    if not scan.free(m.start(), end):
        return False
    scan.take(m.start(), end)
    return True


_TRIGGER = (
    r"(?:containing|contains|contain|mentioning|mention|matching|with (?:the )?(?:text|word|words|phrase|message)|"
    r"содержащ\w*|с текстом|со словом|со словами|с фразой|с сообщением|упоминающ\w*|где есть|где встречается|"
    r"в которых есть|в которых встречается|в тексте)\s+"
)


def _quoted(scan: Scan, intent: Intent) -> None:
    for m in scan.find_original(r'"([^"]+)"|«([^»]+)»|“([^”]+)”|\'([^\']+)\''):
        text = next(g for g in m.groups() if g is not None).strip()
        if not text:
            continue
        scan.take(m.start(), m.end())
        start = m.start()
        trigger = re.search(_TRIGGER + r"$", scan.low[:start])
        if trigger and scan.free(trigger.start(), trigger.end()):
            scan.take(trigger.start(), trigger.end())
            start = trigger.start()
        intent.texts.append(TextMatch(text, True, negate=_negated(scan, start), words=m.group(0)))


def _explicit(scan: Scan, intent: Intent, fields: IndexFields) -> None:
    """`field:value`, `field=value`, `field!=value` naming a field of the mapping."""
    for m in scan.find_original(r"(?<![\w.@])([A-Za-z_@][\w.@]*)\s*(!=|=|:)\s*([^\s,;]+)"):
        name, op, value = m.group(1), m.group(2), m.group(3).strip("\"'")
        if fields.get(name) is None:
            continue
        scan.take(m.start(), m.end())
        negate = op == "!=" or _negated(scan, m.start())
        intent.filters.append(
            Filter("", "term", [value], negate=negate, words=m.group(0), field=name)
        )


def _ids(scan: Scan, intent: Intent) -> None:
    for m in scan.find(r"(?:trace(?:[ _]?id)?|трейс\w*)?\s*[:=]?\s*\b([0-9a-f]{32})\b"):
        scan.take(m.start(), m.end())
        intent.filters.append(Filter("trace", "term", [m.group(1)], words=m.group(0).strip()))
    ip = r"((?:\d{1,3}\.){3}\d{1,3}(?:/\d{1,2})?)"
    for m in scan.find(
        rf"(?:(host|хост\w*|server|сервер\w*)\s+(?:ip\s+)?|(?:(?:client|клиент\w*|from|с|от|source)\s+)?(?:ip\s+|ip-?адрес\w*\s+)?)\b{ip}\b"
    ):
        concept = "host_ip" if m.group(1) else "client_ip"
        scan.take(m.start(), m.end())
        intent.filters.append(
            Filter(
                concept,
                "term",
                [m.group(2)],
                negate=_negated(scan, m.start()),
                words=m.group(0).strip(),
            )
        )


_DIM = "(?P<dim>" + "|".join(f"(?:{p})" for p in DIMENSIONS) + r")(?![\w])"


def _dimension(word: str) -> str:
    for pattern, concept in DIMENSIONS.items():
        if re.fullmatch(pattern, word):
            return concept
    return ""


def _grouping(scan: Scan, intent: Intent) -> None:
    patterns = [
        rf"(?:top|топ)[\s-]*(?P<n>\d+)?\s+(?:of\s+)?{_DIM}",
        rf"(?P<n>\d+)\s+(?:самых\s+\w+|most\s+\w+|noisiest|busiest|чаще всего\s+\w+)\s+{_DIM}",
        rf"(?:which|what|какие|какой|каким|у каких)\s+{_DIM}(?=.*?(?P<most>the most|most often|most|больше всего|чаще всего|чаще))",
        rf"(?:most (?:frequent|common)|самые частые|наиболее частые)\s+{_DIM}",
        rf"(?:grouped by|group by|broken down by|split by|by|per|for each|each|по|в разрезе|с разбивкой по|сгруппир\w*\s+по|разб\w*\s+по|для каждого)\s+{_DIM}",
    ]
    for pattern in patterns:
        for m in scan.find(pattern):
            concept = _dimension(m.group("dim"))
            if not concept or any(c == concept for c, _n in intent.group_by):
                continue
            n = m.groupdict().get("n")
            scan.take(m.start(), m.end())
            if m.groupdict().get("most") and scan.free(m.start("most"), m.end("most")):
                scan.take(m.start("most"), m.end("most"))
            intent.group_by.append((concept, int(n) if n else 10))


_HIST_WORDS = [
    (r"per second|по секундам|посекундно|каждую секунду", "1s"),
    (r"per minute|by minute|every minute|minutely|по минутам|поминутно|каждую минуту", "1m"),
    (r"per hour|by hour|every hour|hourly|по часам|почасово|каждый час", "1h"),
    (r"per day|by day|every day|daily|по дням|посуточно|по суткам|каждый день", "1d"),
]


def _histogram(scan: Scan, intent: Intent) -> None:
    for pattern, interval in _HIST_WORDS:
        for m in scan.find(rf"(?<![\w])(?:{pattern})(?![\w])"):
            scan.take(m.start(), m.end())
            intent.histogram = interval
            return
    every = (
        r"(?:every|each|per|in|каждые|кажд\w+|с шагом|шагом|интервал(?:ом)?|по|бакетами по)\s+"
        r"(?P<n>\d+)[\s-]*(?P<u>s|sec|seconds?|m|mins?|minutes?|h|hours?|d|days?|секунд\w*|сек|минут\w*|мин|час\w*|ч|д(?:ень|ня|ней))(?![\w])"
        r"(?:\s+(?:buckets?|intervals?|бакет\w*|интервал\w*))?"
    )
    for m in scan.find(every):
        unit = timeparse._unit(m.group("u"))
        unit = {"s": "s", "sec": "s", "min": "m", "mins": "m"}.get(unit, unit)
        if unit not in ("s", "m", "h", "d"):
            continue
        scan.take(m.start(), m.end())
        intent.histogram = f"{int(m.group('n'))}{unit}"
        return
    for m in scan.find(
        r"(?<![\w])(?:histogram|timeline|over time|trend|гистограмм\w*|динамик\w*|график\w*|тренд\w*|во времени)(?![\w])"
    ):
        scan.take(m.start(), m.end())
        intent.histogram = "auto"
        return


_DURATION = r"(?:latency|latencies|duration|response times?|request times?|задержк\w*|длительност\w*|врем\w+ ответа|врем\w+ выполнения|времени обработки)"
_BYTES = r"(?:response size|bytes|размер\w* ответ\w*|объ[её]м\w* ответ\w*)"


def _metric(scan: Scan, intent: Intent) -> None:
    for m in scan.find(rf"(?:unique|distinct|уникальн\w+|различн\w+|разн\w+)\s+{_DIM}"):
        concept = _dimension(m.group("dim"))
        if concept:
            scan.take(m.start(), m.end())
            intent.metric = ("cardinality", concept, 0.0)
            return
    kinds = [
        (
            r"(?:p|п)(?P<p>50|75|90|95|99|999)|(?P<p2>50|75|90|95|99)(?:th|-?й|-?го)?\s+(?:percentile|перцентил\w*|процентил\w*)|(?:percentile|перцентил\w*|процентил\w*)\s+(?P<p3>50|75|90|95|99)",
            "percentiles",
        ),
        (r"average|avg|mean|средн\w+", "avg"),
        (r"max(?:imum)?|максимальн\w+|наибольш\w+", "max"),
    ]
    for pattern, kind in kinds:
        for what, concept in ((_DURATION, "duration"), (_BYTES, "bytes")):
            for m in scan.find(rf"(?:{pattern})\s+(?:of\s+|by\s+)?{what}"):
                p = next((m.group(g) for g in ("p", "p2", "p3") if m.groupdict().get(g)), None)
                percent = 0.0 if p is None else 99.9 if p == "999" else float(p)
                scan.take(m.start(), m.end())
                intent.metric = (kind, concept, percent)
                return


def _count(scan: Scan, intent: Intent) -> None:
    for m in scan.find(
        r"(?<![\w])(?:how many|count(?: of)?|number of|сколько|количеств\w*|числ[оа]|посчитай|подсчитай)(?![\w])"
    ):
        scan.take(m.start(), m.end())
        intent.count = True
        return


_CODE = r"[1-5](?:\d\d|xx)"
_CODES = rf"(?P<codes>{_CODE}(?:{_CONNECT}{_CODE})*)"


_ERRORS_WORD = r"(?:errors?|ошибк\w*|ошибок)"


def _take_errors_word(scan: Scan, start: int, end: int) -> None:
    """ "5xx errors" / "ошибки 5xx": the status says which errors; no severity filter."""
    after = re.compile(rf"\s*{_ERRORS_WORD}(?![\w])").match(scan.low, end)
    if after and scan.free(after.start(), after.end()):
        scan.take(after.start(), after.end())
    before = re.search(rf"{_ERRORS_WORD}\s*$", scan.low[:start])
    if before and scan.free(before.start(), before.end()):
        scan.take(before.start(), before.end())


def _status(scan: Scan, intent: Intent) -> None:
    patterns = [
        rf"(?:non[- ]?|не\s+|кроме\s+|except\s+|excluding\s+){_CODES}(?![\w])",
        rf"(?:returned|returning|returns|return|responded with|respond with|answered|отвечают|ответили|отвечает|ответил\w*|вернули|вернул\w*|возвращают|возвращает)\s+(?:with\s+|кодом\s+)?{_CODES}(?![\w])",
        rf"(?:http\s+)?(?:status(?:\s+codes?)?|statuses|статус(?:ом|а|ы)?|code|codes|код(?:ом|а)?(?:\s+ответа)?|http|responses?|ответ(?:ы|ов|ом|ами)?(?:\s+с\s+кодом)?)\s*[:=]?\s*{_CODES}",
        rf"{_CODES}(?:-?(?:х|x|е|s|ые|ых|ми))?(?:\s+(?:errors?|ошибк\w*|ответ\w*|responses?|codes?|код\w*|статус\w*))",
        rf"{_ERRORS_WORD}\s+{_CODES}(?![\w])",
        rf"(?<![\w]){_CODES}(?:-(?:х|x|е|ые|ых|ми|ки)|s)(?![\w])",
        rf"(?<![\w])(?P<codes>[1-5]xx(?:{_CONNECT}[1-5]xx)*)(?![\w])",
    ]
    for pattern in patterns:
        for m in scan.find(pattern):
            codes = re.findall(_CODE, m.group("codes"))
            scan.take(m.start(), m.end())
            negate = m.group(0).startswith(("non", "не ", "кроме", "except")) or _negated(
                scan, m.start()
            )
            _take_errors_word(scan, m.start(), m.end())
            ranges = [c for c in codes if c.endswith("xx")]
            exact = [int(c) for c in codes if not c.endswith("xx")]
            for c in ranges:
                base = int(c[0]) * 100
                intent.filters.append(
                    Filter(
                        "status",
                        "range",
                        bounds={"gte": base, "lt": base + 100},
                        negate=negate,
                        words=m.group(0),
                    )
                )
            if exact:
                op = "term" if len(exact) == 1 else "terms"
                intent.filters.append(Filter("status", op, exact, negate=negate, words=m.group(0)))


_DUR_UNIT = r"(?P<u>ms|msec|milliseconds?|мс|миллисекунд\w*|s|sec|secs|seconds?|с|сек|секунд\w*|m|min|minutes?|мин|минут\w*)(?![\w])"


def _slow(scan: Scan, intent: Intent) -> None:
    patterns = [
        rf"(?P<cmp>slower than|longer than|more than|over|above|greater than|at least|медленнее|дольше|более|больше|свыше|от|не менее)\s+(?P<n>\d+(?:[.,]\d+)?)\s*{_DUR_UNIT}",
        rf"{_DURATION}\s*(?P<cmp>>=|>|≥|over|above|больше|более|свыше)\s*(?P<n>\d+(?:[.,]\d+)?)\s*{_DUR_UNIT}",
    ]
    for pattern in patterns:
        for m in scan.find(pattern):
            n = float(m.group("n").replace(",", "."))
            unit = m.group("u")
            ms = (
                n
                if unit.startswith(("ms", "msec", "milli", "мс", "милли"))
                else n * 60_000
                if unit.startswith(("m", "мин"))
                else n * 1000
            )
            inclusive = m.group("cmp") in (">=", "≥", "at least", "от", "не менее")
            scan.take(m.start(), m.end())
            bounds = {"gte" if inclusive else "gt": ms}
            intent.filters.append(
                Filter("duration", "range", bounds=bounds, words=m.group(0), unit="ms")
            )
            # "slow requests over 2s": the adjective says nothing more.
            return


def _levels(scan: Scan, intent: Intent) -> None:
    for level, words in LEVEL_WORDS.items():
        for m in scan.find(rf"(?<![\w])(?:{words})(?![\w])"):
            scan.take(m.start(), m.end())
            values = list(LEVELS[level])
            negate = _negated(scan, m.start())
            same = [f for f in intent.filters if f.concept == "level" and f.negate == negate]
            if same:
                same[0].values += [v for v in values if v not in same[0].values]
                same[0].op = "terms"
            else:
                op = "term" if len(values) == 1 else "terms"
                intent.filters.append(Filter("level", op, values, negate=negate, words=m.group(0)))


def _methods(scan: Scan, intent: Intent) -> None:
    found: list[str] = []
    for m in scan.find_original(r"(?<![\w])(GET|POST|PUT|DELETE|PATCH|HEAD|OPTIONS)(?![\w])"):
        scan.take(m.start(), m.end())
        found.append(m.group(1))
    for m in scan.find(
        r"(?<![\w])(get|post|put|delete|patch)[\s-]*(?=requests?|запрос\w*|метод\w*)"
    ):
        scan.take(m.start(), m.end())
        found.append(m.group(1).upper())
    if found:
        values = list(dict.fromkeys(found))
        intent.filters.append(
            Filter(
                "method", "term" if len(values) == 1 else "terms", values, words=" ".join(values)
            )
        )


def _paths(scan: Scan, intent: Intent) -> None:
    for m in scan.find_original(r"(?<![\w/.])(/[\w\-./{}%*]*[\w/*])"):
        path = m.group(1)
        scan.take(m.start(), m.end())
        negate = _negated(scan, m.start())
        if path.endswith(("/", "*")) or re.search(
            r"(?:starting with|начина\w+ с|under|под)\s*$", scan.low[: m.start()]
        ):
            intent.filters.append(
                Filter("path", "prefix", [path.rstrip("*")], negate=negate, words=m.group(0))
            )
        else:
            intent.filters.append(Filter("path", "term", [path], negate=negate, words=m.group(0)))


_NAMED = {
    "service": r"(?:services?|svc|apps?|applications?|сервис(?:а|е|у|ом|ов|ы|ам)?|микросервис(?:а|е|у|ом|ов)?|приложени(?:я|е|и|ем|й))",
    "host": r"(?:hosts?|hostname|nodes?|servers?|хост(?:а|е|у|ом|ов)?|нод(?:а|е|ы|у|ой)|сервер(?:а|е|у|ом|ов)?)",
    "namespace": r"(?:namespaces?|ns|неймспейс(?:а|е|ом|ов)?|пространств[аео] имён)",
    "pod": r"(?:pods?|под(?:а|е|у|ом|ов)?)",
    "user": r"(?:users?|пользовател(?:я|ь|ем|е|ей))",
    "exception": r"(?:exception (?:type|class)(?: is)?|error type(?: is)?|тип(?:ом)? исключения|класс(?:ом)? исключения)",
}
# "without a trace id" / "без trace id": the field is absent.
_ABSENT = {
    r"trace[ _-]?ids?|traces?|трейс\w*|trace": "trace",
    r"users?|пользовател\w*": "user",
    r"exceptions?|исключени\w*": "exception",
}


def _named(scan: Scan, intent: Intent) -> None:
    for concept, words in _NAMED.items():
        name = r"[a-z0-9][a-z0-9.-]*-[a-z0-9]{4,}" if concept == "pod" else _NAME
        value = r"[«\"']?(?P<v>" + name + r")[»\"']?"
        more = rf"(?P<more>(?:{_CONNECT}[«\"']?{_NAME}[»\"']?)*)"
        for m in scan.find(rf"(?<![\w]){words}(?:\s*[:=]\s*|\s+){value}{more}"):
            first = scan.original(m.start("v"), m.end("v"))
            if first.lower() in _STOP_VALUES or _dimension(first.lower()):
                continue
            values = [first] + [
                v
                for v in re.findall(
                    _NAME, scan.original(m.start("more"), m.end("more")), re.IGNORECASE
                )
                if v.lower() not in ("and", "or", "и", "или")
            ]
            scan.take(m.start(), m.end())
            negate = _negated(scan, m.start())
            op = "term" if len(values) == 1 else "terms"
            intent.filters.append(Filter(concept, op, values, negate=negate, words=m.group(0)))
    # "the payments service", "the payments or orders services"
    names = rf"(?P<v>{_NAME})(?P<more>(?:{_CONNECT}{_NAME})*)"
    for m in scan.find(rf"(?<![\w]){names}\s+services?(?![\w])"):
        values = [
            v
            for v in re.findall(
                _NAME,
                scan.original(m.start(), m.start("more") if m.group("more") else m.end("v"))
                + " "
                + scan.original(m.start("more"), m.end("more")),
                re.IGNORECASE,
            )
            if v.lower() not in ("and", "or", "и", "или")
        ]
        if not values or any(v.lower() in _STOP_VALUES or _dimension(v.lower()) for v in values):
            continue
        scan.take(m.start(), m.end())
        negate = _negated(scan, m.start())
        op = "term" if len(values) == 1 else "terms"
        intent.filters.append(Filter("service", op, values, negate=negate, words=m.group(0)))


def _absent(scan: Scan, intent: Intent) -> None:
    for pattern, concept in _ABSENT.items():
        for m in scan.find(
            rf"(?<![\w])(?P<neg>without(?: an?)?|with no|no|missing|без|нет)\s+(?:{pattern})(?![\w])"
        ):
            scan.take(m.start(), m.end())
            intent.filters.append(Filter(concept, "exists", negate=True, words=m.group(0)))


def _exceptions(scan: Scan, intent: Intent) -> None:
    for m in scan.find_original(r"(?<![\w.])((?:[a-z]\w*\.)*[A-Z]\w*(?:Exception|Error))(?![\w])"):
        scan.take(m.start(), m.end())
        intent.texts.append(
            TextMatch(m.group(1), False, negate=_negated(scan, m.start()), words=m.group(0))
        )


def _problems(scan: Scan, intent: Intent) -> None:
    for pattern, text in PROBLEMS.items():
        for m in scan.find(rf"(?<![\w])(?:{pattern})(?![\w])"):
            scan.take(m.start(), m.end())
            intent.texts.append(
                TextMatch(text, " " in text, negate=_negated(scan, m.start()), words=m.group(0))
            )


def _containing(scan: Scan, intent: Intent) -> None:
    for m in scan.find(_TRIGGER):
        words: list[str] = []
        end = m.end()
        for w in re.finditer(r"[\w.-]+", scan.low[m.end() :]):
            start, stop = m.end() + w.start(), m.end() + w.end()
            gap = scan.low[end:start]
            if words and gap.strip() or not scan.free(start, stop) or w.group(0) in _TEXT_STOP:
                break
            if words and len(words) >= 4:
                break
            words.append(scan.original(start, stop))
            end = stop
        if words:
            scan.take(m.start(), end)
            text = " ".join(words)
            intent.texts.append(
                TextMatch(
                    text,
                    len(words) > 1,
                    negate=_negated(scan, m.start()),
                    words=scan.original(m.start(), end),
                )
            )


def _size(scan: Scan, intent: Intent) -> None:
    for m in scan.find(
        r"(?:last|latest|recent|newest|most recent|последни[ехй]|свежи[ех]|новы[ех])\s+(?P<n>\d+)|(?P<n2>\d+)\s+(?:last|latest|most recent|newest|последних|свежих|новых)"
    ):
        scan.take(m.start(), m.end())
        intent.size = int(m.group("n") or m.group("n2"))
        intent.order = "desc"
        return
    for m in scan.find(
        r"(?:first|oldest|earliest|первы[ех]|самы[ех] ранни[ех]|самы[ех] стары[ех])(?:\s+(?P<n>\d+))?"
    ):
        scan.take(m.start(), m.end())
        intent.size = int(m.group("n")) if m.group("n") else None
        intent.order = "asc"
        return
    for m in scan.find(r"(?:latest|most recent|newest|последни[ехй]|свежи[ех])(?![\w])"):
        scan.take(m.start(), m.end())
        intent.order = "desc"
        return
    for m in scan.find(
        r"(?:show|покажи|выведи)?\s*(?P<n>\d+)\s+(?:entries|lines|records|events|messages|hits|записей|строк|событий|сообщений)"
    ):
        scan.take(m.start(), m.end())
        intent.size = int(m.group("n"))
        return


def read(question: str, fields: IndexFields) -> Intent:
    """The Intent of a question over a pattern's fields."""
    scan = Scan(question)
    intent = Intent(question=question)
    _quoted(scan, intent)
    _explicit(scan, intent, fields)
    _ids(scan, intent)
    intent.time = timeparse.parse(scan)
    _grouping(scan, intent)
    _histogram(scan, intent)
    _metric(scan, intent)
    _count(scan, intent)
    _status(scan, intent)
    _slow(scan, intent)
    _size(scan, intent)
    _levels(scan, intent)
    _methods(scan, intent)
    _paths(scan, intent)
    _absent(scan, intent)
    _named(scan, intent)
    _exceptions(scan, intent)
    _problems(scan, intent)
    _containing(scan, intent)
    intent.leftover = scan.leftover()
    return intent
