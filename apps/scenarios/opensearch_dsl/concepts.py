"""What the words of a question stand for in a logs mapping.

A concept (service, severity, HTTP status…) is looked up in the pattern's own mapping: the
first candidate path that exists with a usable type wins, so the same question works over an
OTel/SS4O mapping (`service.name`, `severity.text`), ECS (`log.level`) or a hand-made one
(`level`, `service`). Nothing here is a field name the query uses without the mapping saying
it exists.
"""

from __future__ import annotations

from dataclasses import dataclass

from apps.scenarios.opensearch_dsl.mapping import (
    DATE,
    EXACT,
    KEYWORD,
    NUMERIC,
    TEXT,
    Field,
    IndexFields,
)


@dataclass(frozen=True)
class Concept:
    name: str
    candidates: tuple[str, ...]
    types: frozenset[str]


CONCEPTS: dict[str, Concept] = {
    c.name: c
    for c in (
        Concept(
            "time",
            (
                "@timestamp",
                "timestamp",
                "time",
                "observedTimestamp",
                "observedTime",
                "event.created",
            ),
            DATE,
        ),
        Concept(
            "level",
            (
                "severity.text",
                "severityText",
                "log.level",
                "level",
                "severity",
                "loglevel",
                "log_level",
            ),
            KEYWORD,
        ),
        Concept(
            "service",
            (
                *("service.name", "resource.attributes.service@name", "serviceName"),
                *(
                    "resource.service.name",
                    "service",
                    "app",
                    "application",
                    "kubernetes.labels.app",
                ),
            ),
            KEYWORD,
        ),
        Concept(
            "status",
            (
                *("http.response.status_code", "http.status_code", "status_code", "statusCode"),
                *("status", "response", "http.response.status"),
            ),
            KEYWORD | NUMERIC,
        ),
        Concept("method", ("http.request.method", "http.method", "method", "verb"), KEYWORD),
        Concept(
            "path",
            ("url.path", "http.target", "http.url", "url.original", "request", "path", "uri"),
            KEYWORD,
        ),
        Concept(
            "host",
            ("host.name", "host.hostname", "hostname", "host", "resource.attributes.host@name"),
            KEYWORD,
        ),
        Concept(
            "namespace",
            (
                *("kubernetes.namespace", "kubernetes.namespace_name", "k8s.namespace.name"),
                *("resource.attributes.k8s@namespace@name", "namespace"),
            ),
            KEYWORD,
        ),
        Concept(
            "pod",
            ("kubernetes.pod.name", "kubernetes.pod_name", "k8s.pod.name", "pod", "pod_name"),
            KEYWORD,
        ),
        Concept("trace", ("traceId", "trace_id", "trace.id", "traceID"), KEYWORD),
        Concept(
            "client_ip", ("client.ip", "source.ip", "clientip", "client_ip", "remote_addr"), EXACT
        ),
        Concept("host_ip", ("host.ip", "server.ip", "destination.ip"), EXACT),
        Concept("user", ("user.name", "user.id", "user", "username"), KEYWORD),
        Concept("exception", ("exception.type", "error.type", "exception.class"), KEYWORD),
        Concept("text", ("body", "message", "log", "msg", "log.message", "event.original"), TEXT),
        Concept(
            "duration",
            (
                *("event.duration", "http.server.duration_ms", "duration_ms", "latency_ms"),
                *("durationInNanos", "duration", "latency", "response_time", "request_time"),
            ),
            NUMERIC,
        ),
        Concept(
            "bytes", ("http.response.bytes", "http.response.body.bytes", "bytes", "size"), NUMERIC
        ),
    )
}


def resolve(fields: IndexFields, concept: str) -> Field | None:
    """The pattern's field for a concept, or None when the mapping has none."""
    spec = CONCEPTS[concept]
    for name in spec.candidates:
        found = fields.get(name)
        if found is None or found.conflicting or found.nested_in or not found.searchable:
            continue
        if found.type in spec.types:
            return found
        # A text field with an exact sub-field (`service` text + `service.keyword`).
        for sub in found.sub_fields:
            inner = fields.get(sub)
            if inner is not None and inner.type in spec.types:
                return inner
    if concept == "time":
        dates = [f for f in fields.queryable() if f.type in DATE and not f.nested_in]
        return dates[0] if dates else None
    return None


def duration_unit(field: Field) -> str:
    """The unit a duration field holds, from its name (ECS event.duration is nanoseconds)."""
    name = field.name.lower()
    if field.name == "event.duration" or "nano" in name or name.endswith("_ns"):
        return "ns"
    if name.endswith(("_us", "micros")):
        return "us"
    if name.endswith(("_s", "_sec", "_seconds", "request_time")):
        return "s"
    return "ms"


# --- vocabulary ------------------------------------------------------------------------------

# Severity words → the canonical value written in the query. OTel SDKs write severityText in
# upper case ("ERROR", "WARN"); Python's logging says "WARNING", hence two values for warnings.
LEVELS: dict[str, tuple[str, ...]] = {
    "error": ("ERROR",),
    "warn": ("WARN", "WARNING"),
    "info": ("INFO",),
    "debug": ("DEBUG",),
    "fatal": ("FATAL",),
}
LEVEL_WORDS = {
    "error": r"errors?|ошибк[аиуеой]?|ошибок|ошибками|error-?level|уровн[яе]м? error",
    "warn": r"warnings?|warn|предупреждени[еяйи]|предупреждениями|варнинг[аиов]*",
    "info": r"info(?:rmational)?|информационн\w*",
    "debug": r"debug|отладочн\w*|дебаг\w*",
    "fatal": r"fatal|critical|критическ\w*|фатальн\w*",
}

# Dimensions a question groups by (top N, "by service", "по сервисам") → concept.
DIMENSIONS: dict[str, str] = {
    r"services?|сервис(?:ам|ов|ы|а)?|приложени(?:ям|й|я)|apps?": "service",
    r"hosts?|nodes?|хост(?:ам|ов|ы|а)?|нод(?:ам|ы|е)?|сервер(?:ам|ов|ы|а)?": "host",
    r"status(?:es)?(?: codes?)?|codes?|статус(?:ам|ов|ы|а)?|код(?:ам|ов|ы|а)?(?: ответа)?": "status",
    r"levels?|severit(?:y|ies)|уровн(?:ям|ей|и|ю)": "level",
    r"namespaces?|неймспейс(?:ам|ов|ы|а)?|пространств(?:ам|ами)? имён": "namespace",
    r"pods?|под(?:ам|ов|ы)": "pod",
    r"paths?|urls?|endpoints?|эндпоинт(?:ам|ов|ы|а)?|пут(?:ям|ей|и)|урл(?:ам|ов|ы)?": "path",
    r"methods?|метод(?:ам|ов|ы|а)?": "method",
    r"exceptions?(?: types?)?|исключени(?:ям|й|я)|тип(?:ам|ов)? (?:ошибок|исключений)": "exception",
    r"users?|пользовател(?:ям|ей|и)": "user",
    r"clients?|client ips?|ips?|клиент(?:ам|ов|ы)|ip-?адрес(?:ам|ов|а)?": "client_ip",
}

# Common ops problems said in words → the text a log line carries (matched as a phrase).
PROBLEMS: dict[str, str] = {
    r"time-?outs?|timed out|таймаут(?:ы|ов|ами|а)?|тайм-аут(?:ы|ов)?": "timeout",
    r"connection refused|отказ(?:ы|ов)? в (?:соединении|подключении)": "connection refused",
    r"connection reset|сброс(?:ы|ов)? соединени[яй]": "connection reset",
    r"out of memory|oom(?:killed)?|нехватк[аиу] памяти": "out of memory",
    r"deadlocks?|дедлок(?:и|ов)?|взаимоблокировк[аи]": "deadlock",
    r"permission denied|доступ запрещ[её]н|нет доступа": "permission denied",
    r"too many open files|слишком много открытых файлов": "too many open files",
    r"no space left on device|нет места на диске|закончилось место": "no space left on device",
}
