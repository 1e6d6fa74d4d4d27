"""gixy-ng's checks in the portal's words (Russian and English), with the severity a
reviewer gives them. gixy's own `reason` (the specifics: which header, which variable) is
kept after the summary in the tool's words; checks not listed here keep gixy's text."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from apps.scenarios.engine.findings import Severity

E, W, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO
_GIXY = {"HIGH": E, "MEDIUM": W, "LOW": INFO}


@dataclass(frozen=True)
class Text:
    severity: Severity
    message: str
    why: str
    fix: str


_TABLE: dict[str, tuple[Severity, Promise, Promise, Promise]] = {
    "alias_traversal": (
        E,
        _("Path traversal through alias: the location has no trailing slash but alias does"),
        _("A request for /static../secret.txt reads files next to the aliased directory."),
        _("End both the location and the alias with '/' (location /static/ { alias …/; })."),
    ),
    "ssrf": (
        E,
        _("Possible SSRF: proxy_pass takes its destination from the request"),
        _("A client can make nginx send requests to internal addresses of its choosing."),
        _("Proxy to a fixed upstream, or check the variable against an allow-list with map."),
    ),
    "http_splitting": (
        E,
        _("HTTP response splitting: a variable that may hold a newline goes into a header"),
        _("A client can inject headers or a whole response through an encoded line break."),
        _("Use variables that cannot hold '\\n' ($request_uri, not $uri or regex captures)."),
    ),
    "host_spoofing": (
        W,
        _("The Host header passed upstream can be spoofed ($http_host)"),
        _("The backend trusts a Host the client chose (password-reset links, cache keys)."),
        _("Pass proxy_set_header Host $host; ($host is normalized and falls back to server_name)."),
    ),
    "add_header_redefinition": (
        W,
        _("add_header in a nested block drops the headers set above it"),
        _("Security headers set at the server level silently disappear in this location."),
        _(
            "Repeat the parent's add_header lines in the nested block, or move them into an include."
        ),
    ),
    "add_header_multiline": (
        W,
        _("A header value spans several lines"),
        _("Clients and proxies treat multi-line header values inconsistently."),
        _("Put the header value on one line."),
    ),
    "add_header_content_type": (
        W,
        _("Content-Type set with add_header"),
        _("add_header adds a second Content-Type instead of replacing nginx's own."),
        _("Use default_type (or types) to set the content type."),
    ),
    "version_disclosure": (
        W,
        _("The nginx version is disclosed (server_tokens)"),
        _("The version in every response and error page tells attackers which CVEs to try."),
        _("Set server_tokens off; in the http block."),
    ),
    "weak_ssl_tls": (
        E,
        _("Weak TLS protocols or ciphers are enabled"),
        _("TLS 1.0/1.1 and ciphers such as RC4, 3DES or export suites can be broken."),
        _(
            "ssl_protocols TLSv1.2 TLSv1.3; with a current cipher list (for example "
            "Mozilla's intermediate profile)."
        ),
    ),
    "hsts_header": (
        W,
        _("HTTPS server without Strict-Transport-Security"),
        _("Without HSTS a first plain-HTTP request can be downgraded or intercepted."),
        _('add_header Strict-Transport-Security "max-age=31536000" always;'),
    ),
    "status_page_exposed": (
        W,
        _("The status page is reachable by anyone"),
        _("stub_status (or a status API) shows connection counts to every client."),
        _("Restrict it: allow 127.0.0.1; allow <monitoring network>; deny all;"),
    ),
    "worker_rlimit_nofile_vs_connections": (
        INFO,
        _("worker_rlimit_nofile is missing or below twice worker_connections"),
        _("A proxied connection uses two descriptors; workers run out of them under load."),
        _("Set worker_rlimit_nofile to at least twice worker_connections."),
    ),
    "if_is_evil": (
        W,
        _("'if' in a location does more than return or rewrite"),
        _("Only return and rewrite … last are safe inside if in a location; others misbehave."),
        _("Use map, try_files or separate locations instead of if."),
    ),
    "try_files_is_evil_too": (
        W,
        _("try_files without open_file_cache"),
        _("try_files checks the file system on every request."),
        _("Add open_file_cache, or avoid try_files where it is not needed."),
    ),
    "allow_without_deny": (
        E,
        _("allow without a following deny all"),
        _("An allow list without 'deny all' lets every address in."),
        _("Add deny all; after the allow lines."),
    ),
    "return_bypasses_allow_deny": (
        W,
        _("return runs before allow/deny"),
        _(
            "return is processed in the rewrite phase, before access checks, so it is not restricted."
        ),
        _("Move the return into a location that does not rely on allow/deny."),
    ),
    "default_server_flag": (
        INFO,
        _("Several servers on one port without default_server"),
        _("Requests with an unknown Host go to whichever server comes first."),
        _("Mark one server per listen address default_server (often one that returns 444)."),
    ),
    "proxy_pass_normalized": (
        W,
        _("proxy_pass with a URI part passes a normalized (decoded) path"),
        _("Encoded characters (%2F) are decoded before proxying, which can change routing."),
        _("Use proxy_pass without a URI part, or pass $request_uri explicitly."),
    ),
    "unanchored_regex": (
        INFO,
        _("A location regex is not anchored"),
        _("Without ^ or $ the regex matches anywhere in the path, more than intended."),
        _("Anchor the regex (for example ~ \\.php$)."),
    ),
    "regex_redos": (
        W,
        _("A regex can take exponential time (ReDoS)"),
        _("A crafted request path makes workers spin on the regex."),
        _("Rewrite the regex without nested or overlapping quantifiers."),
    ),
    "invalid_regex": (
        E,
        _("A regex refers to a capture group that does not exist"),
        _("The variable is empty at run time, so the rewrite or proxy goes wrong."),
        _("Fix the capture group numbers."),
    ),
    "origins": (
        W,
        _("A Referer or Origin check can be bypassed"),
        _("The regex accepts domains the author did not mean (evil-example.com)."),
        _("Anchor the regex and escape the dots."),
    ),
    "valid_referers": (
        W,
        _("valid_referers with none"),
        _("'none' accepts requests without Referer, which anyone can send."),
        _("Remove none from valid_referers."),
    ),
    "error_log_off": (
        W,
        _("error_log off writes to a file named 'off'"),
        _("error_log has no 'off'; errors go to a file called off in the prefix."),
        _("Use error_log /dev/null crit; to silence it (not recommended)."),
    ),
    "low_keepalive_requests": (
        INFO,
        _("keepalive_requests is low"),
        _("Clients reconnect often, which costs TLS handshakes (HTTP/2 especially)."),
        _("Keep the default (1000) or higher."),
    ),
    "missing_resolver": (
        W,
        _("proxy_pass with a hostname in a variable needs a resolver"),
        _("Names in variables are resolved at run time; without resolver the request fails."),
        _("Add resolver with your DNS servers, or proxy to an upstream block."),
    ),
    "resolver_external": (
        W,
        _("resolver points at a public DNS server"),
        _("Answers from outside can be spoofed (DNS cache poisoning)."),
        _("Use the internal DNS resolver."),
    ),
    "filesystem_root_exposure": (
        E,
        _("root or alias exposes a system directory"),
        _("Files such as /etc/passwd become downloadable."),
        _("Point root at the site's own directory."),
    ),
    "hash_without_default": (
        INFO,
        _("map without a default value"),
        _("Unmatched values get an empty string, which may not be what the rule expects."),
        _("Add a default line to the map."),
    ),
    "ssl_stapling_without_resolver": (
        INFO,
        _("ssl_stapling without a resolver"),
        _("nginx cannot reach the OCSP responder without a resolver, so stapling does nothing."),
        _("Add resolver, or turn ssl_stapling off."),
    ),
}


def describe(plugin: str, issue: dict[str, Any]) -> Text:
    reason = str(issue.get("reason") or "").strip()
    row = _TABLE.get(plugin)
    if row is None:
        summary = str(issue.get("summary") or plugin)
        return Text(
            _GIXY.get(str(issue.get("severity", "")).upper(), INFO),
            f"{summary}: {reason}" if reason else summary,
            str(issue.get("description") or ""),
            "",
        )
    severity, summary_text, why, fix = row
    if plugin == "weak_ssl_tls" and not reason.startswith(("Insecure", "Weak cipher witnesses")):
        # an error only for a protocol or cipher shown to be weak; gixy also speaks up when it
        # cannot expand a selector such as HIGH, or when ssl_ciphers is left at nginx's
        # default (HIGH:!aNULL:!MD5): questions to check, not proven weaknesses
        severity = W
    summary = str(summary_text)
    fixes = issue.get("fixes") or []
    tool_fix = "; ".join(str(f.get("title", "")) for f in fixes if isinstance(f, dict))
    message = f"{summary}: {reason}" if reason else summary
    return Text(severity, message, str(why), f"{fix} ({tool_fix})" if tool_fix else str(fix))
