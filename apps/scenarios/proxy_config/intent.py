"""What a request to write a config asks for, told deterministically (Russian and English).

"балансировщик для трёх бэкендов с health check и sticky sessions" becomes: HAProxy, load
balancer, 3 backends, health checks, sticky sessions. Every value taken from the request
(addresses, ports, domain, rate, paths) passes a strict pattern before a template sees it;
what the request does not say gets a visible placeholder (app-1.internal:8080).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from django.utils.translation import gettext as _

from apps.scenarios.engine.base import InputError

MAX_REQUEST = 2000
MAX_BACKENDS = 16

FEATURES: dict[str, str] = {
    "load_balancer": r"балансир|балансировк|load[- ]?balanc|\blb\b|round[- ]?robin|least[- ]?conn"
    r"|бэкенд\w*|бекенд\w*|backends|upstreams?\b|кластер|cluster",
    "health_check": r"health[- ]?checks?|healthcheck|хелс|проверк\w* (?:здоровья|доступности|живости)"
    r"|живост|liveness",
    "sticky": r"sticky|липк\w*|привязк\w* (?:сесси|клиент)|session persistence|persistence"
    r"|сохранени\w* сесси|affinity|закреп\w* сесси",
    "tls": r"\btls\b|\bssl\b|https|сертификат|certificate|терминац|terminat",
    "redirect_https": r"redirect\w* (?:to )?https|редирект|перенаправ|http\s*(?:->|→|на)\s*https"
    r"|force https|только (?:по )?https",
    "rate_limit": r"rate[- ]?limit|throttl|ограничени\w* (?:\w+ )?(?:запрос|частот|скорост)"
    r"|лимит\w* (?:на )?запрос|\brps\b|запрос\w* в секунду|requests? per second|req/s|\br/s"
    r"|ddos|флуд|flood",
    "websocket": r"websockets?|веб-?сокет|вебсокет|\bws\b|socket\.io|\bwss\b",
    "static": r"stati[c]|статик|статическ|раздач\w* файл|serve files|assets|\bspa\b",
    "reverse_proxy": r"reverse[- ]?proxy|обратн\w* прокси|проксир|(?<!ха)(?<!ha)(?<!ha-)прокси"
    r"|(?<!ha)(?<!ha-)proxy",
    "tcp": r"\btcp\b|postgres|mysql|mariadb|redis|rabbitmq|amqp|layer ?4|\bl4\b",
    "stats": r"\bstats\b|статистик|dashboard|дашборд",
    "gzip": r"gzip|сжати|compress",
}
_KIND = {
    "nginx": r"nginx|нджинкс|энджинкс|нгинкс|энжинкс",
    "haproxy": r"haproxy|ha-proxy|хапрокси|хапрокс|ха-прокси",
}
_NUMBERS = {
    "два": 2, "две": 2, "двух": 2, "two": 2, "пара": 2, "пары": 2,
    "три": 3, "трёх": 3, "трех": 3, "three": 3,
    "четыре": 4, "четырёх": 4, "четырех": 4, "four": 4,
    "пять": 5, "пяти": 5, "five": 5, "шесть": 6, "шести": 6, "six": 6,
}  # fmt: skip
_COUNT = re.compile(
    r"\b(\d{1,2}|" + "|".join(_NUMBERS) + r")[\s-]+(?:\w+\s+)?"
    r"(бэкенд|бекенд|backend|сервер|server|нод|node|узл|узел|instance|экземпляр|инстанс|реплик"
    r"|replica|машин|host|хост)",
    re.I,
)
_ADDRESS = re.compile(
    r"(?<![\w.:/-])((?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?|[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)*:\d{1,5})"
    r"(?![\w.:/-])",
    re.I,
)
_DOMAIN = re.compile(
    r"(?<![\w.@/-])((?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,24})(?![\w.:-])", re.I
)
_PORT = re.compile(r"(?:порт\w*|port)\s*[:=]?\s*(\d{2,5})", re.I)
_RATE = re.compile(
    r"(\d{1,6})\s*(?:r/s|rps|req/s|запрос\w*\s*(?:в|/)\s*(?:секунду|сек|с)\b|requests?\s*(?:per|/)\s*s)",
    re.I,
)
_PATH = re.compile(r"(?<![\w.])(/[A-Za-z0-9._-]+(?:/[A-Za-z0-9._-]+)*/?)")
_HOST = re.compile(
    r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$"
)
TCP_PORTS = {
    "postgres": 5432,
    "mysql": 3306,
    "mariadb": 3306,
    "redis": 6379,
    "rabbitmq": 5672,
    "amqp": 5672,
}
_LOCAL_TLDS = ("internal", "local", "lan", "svc", "cluster", "corp", "intra", "home")


@dataclass
class Intent:
    """What to build, every value already checked."""

    kind: str
    features: list[str]
    backends: list[str]  # host:port
    domain: str
    name: str  # upstream / backend name
    listen_port: int
    rate: int  # requests per second per client
    websocket_path: str
    static_root: str
    # (feature, the words that said so), in the order of FEATURES (a list: a JSON object's
    # key order does not survive PostgreSQL's jsonb)
    matched: list[tuple[str, str]] = field(default_factory=list)
    placeholders: list[str] = field(default_factory=list)  # values the request did not give

    def has(self, feature: str) -> bool:
        return feature in self.features

    @property
    def backends_wanted(self) -> bool:
        """Whether the config proxies to backends (a static site alone does not)."""
        proxying = {"load_balancer", "reverse_proxy", "websocket", "tcp", "sticky", "health_check"}
        if proxying & set(self.features) or "backends" not in self.placeholders:
            return True
        # TLS termination is in front of something, unless it is a static site
        return self.has("tls") and not self.has("static")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _valid_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return len(host) <= 253 and bool(_HOST.match(host))


def _backends(text: str, count: int, port: int) -> tuple[list[str], bool]:
    found: list[str] = []
    for raw in _ADDRESS.findall(text):
        host, _sep, p = raw.lower().partition(":")
        if _valid_host(host) and (not p or 0 < int(p) < 65536):
            found.append(f"{host}:{p or port}")
    if found:
        return list(dict.fromkeys(found))[:MAX_BACKENDS], False
    return [f"app-{i}.internal:{port}" for i in range(1, count + 1)], True


def _domain(text: str, backends: list[str]) -> str | None:
    hosts = {b.rsplit(":", 1)[0] for b in backends}
    for m in _DOMAIN.finditer(text):
        name = m.group(1).lower()
        if name in hosts or name.rsplit(".", 1)[-1] in _LOCAL_TLDS:
            continue
        try:
            ipaddress.ip_address(name)
            continue
        except ValueError:
            pass
        if _valid_host(name):
            return name
    return None


def detect(request: str, kind: str | None = None) -> Intent:
    """The Intent of a request. Raises InputError when the request names nothing buildable."""
    text = request.strip()
    if not text:
        raise InputError(_("Describe the config to write."), field="text")
    if len(text) > MAX_REQUEST:
        raise InputError(
            _("The request is %(n)d characters; at most %(max)d are read.")
            % {"n": len(text), "max": MAX_REQUEST},
            field="text",
        )
    lower = text.lower()
    matched: dict[str, str] = {}
    for feature, pattern in FEATURES.items():
        m = re.search(pattern, lower)
        if m:
            matched[feature] = m.group(0).strip()
    if not matched:
        raise InputError(
            _(
                "Could not tell what to build. Name it, e.g. a load balancer, a reverse proxy, "
                "TLS termination, rate limiting, WebSocket proxying, static files or a redirect "
                "to HTTPS."
            ),
            field="text",
        )
    if kind not in ("nginx", "haproxy"):
        named = [(m.start(), k) for k, p in _KIND.items() if (m := re.search(p, lower))]
        if named:
            kind = min(named)[1]
        elif {"health_check", "sticky", "tcp", "stats"} & set(matched):
            kind = "haproxy"  # active health checks and cookie stickiness: HAProxy has both
        else:
            kind = "nginx"
    features = list(matched)
    if "sticky" in features or "health_check" in features or "tcp" in features:
        features.append("load_balancer")
    if "redirect_https" in features:
        features.append("tls")
    port_match = _PORT.search(lower)
    port = int(port_match.group(1)) if port_match and 0 < int(port_match.group(1)) < 65536 else 8080
    service = next((s for s in TCP_PORTS if s in lower), "")
    if "tcp" in features and not port_match and service:
        port = TCP_PORTS[service]
    count_match = _COUNT.search(lower)
    count = 0
    if count_match:
        word = count_match.group(1)
        count = int(word) if word.isdigit() else _NUMBERS.get(word, 0)
    count = max(1, min(count or (2 if "load_balancer" in features else 1), MAX_BACKENDS))
    backends, placeholder = _backends(lower, count, port)
    placeholders = ["backends"] if placeholder else []
    domain = _domain(lower, backends)
    if domain is None:
        domain = "example.com"
        placeholders.append("domain")
    rate_match = _RATE.search(lower)
    rate = int(rate_match.group(1)) if rate_match else 10
    paths = [p for p in _PATH.findall(text) if p != "/"]
    ws_path = next((p for p in paths if "ws" in p.lower() or "socket" in p.lower()), "/ws/")
    static_root = next(
        (p for p in paths if p.startswith(("/var/", "/srv/", "/opt/", "/usr/share/"))), ""
    )
    base = service or ("app" if "domain" in placeholders else domain.split(".")[0])
    name = re.sub(r"[^a-z0-9]+", "_", base.lower()).strip("_")[:30]
    return Intent(
        kind=kind,
        features=sorted(set(features), key=list(FEATURES).index),
        backends=backends,
        domain=domain,
        name=name if re.match(r"^[a-z][a-z0-9_]*$", name) else "app",
        listen_port=TCP_PORTS.get(service, port) if "tcp" in features else 443,
        rate=max(1, min(rate, 100000)),
        websocket_path=ws_path if ws_path.endswith("/") else ws_path + "/",
        static_root=(static_root or f"/var/www/{domain}").rstrip("/"),
        matched=list(matched.items()),
        placeholders=placeholders,
    )
