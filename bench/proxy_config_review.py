"""proxy-config: time from submit to findings for a 300-line config, tool runs included.

    .venv/bin/python bench/proxy_config_review.py [--runs 30] [--cli 5]

Builds a 300-line nginx config (upstreams, TLS and plain servers, proxied, WebSocket and
static locations, a few mistakes a reviewer would catch) and a 300-line HAProxy config
(frontends with ACLs, backends with checks and stickiness), then times what the page's
submit does: `registry.get("proxy-config").analyze(text, params)`, which runs nginx -t and
gixy-ng (in parallel) or haproxy -c in the sandboxed runner, parses with crossplane and
applies the rules. `--cli N` also times N runs of `manage.py scenario analyze` (a new
process each, as a merge-request job runs it). Prints p50 / p95 / max per config.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def nginx_config() -> str:
    lines = [
        "user www-data;",
        "worker_processes auto;",
        "worker_rlimit_nofile 65535;",
        "pid /run/nginx.pid;",
        "events { worker_connections 4096; }",
        "http {",
        "    include /etc/nginx/mime.types;",
        "    server_tokens off;",
        "    access_log /var/log/nginx/access.log;",
        "    ssl_protocols TLSv1.2 TLSv1.3;",
        "    proxy_connect_timeout 5s;",
        "    proxy_set_header Host $host;",
        "    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        "    map $http_upgrade $connection_upgrade { default upgrade; '' close; }",
        "    limit_req_zone $binary_remote_addr zone=api:10m rate=20r/s;",
    ]
    site = 0
    while len(lines) + 35 + 7 <= 300:  # a site's block, then the default server and "}"
        site += 1
        name = f"svc{site}"
        lines += [
            f"    upstream {name} {{",
            f"        server {name}-a.internal:8080 max_fails=3 fail_timeout=10s;",
            f"        server {name}-b.internal:8080 max_fails=3 fail_timeout=10s;",
            "        keepalive 16;",
            "    }",
            "    server {",
            "        listen 443 ssl;",
            f"        server_name {name}.example.com;",
            f"        ssl_certificate /etc/ssl/certs/{name}.crt;",
            f"        ssl_certificate_key /etc/ssl/private/{name}.key;",
            '        add_header Strict-Transport-Security "max-age=31536000" always;',
            "        client_max_body_size 10m;",
            "        location / {",
            f"            proxy_pass http://{name};",
            "            proxy_http_version 1.1;",
            '            proxy_set_header Connection "";',
            "            proxy_set_header Host $host;",
            "            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
            "        }",
            "        location /api/ {",
            "            limit_req zone=api burst=40 nodelay;",
            f"            proxy_pass http://{name};",
            "            proxy_read_timeout 30s;",
            "        }",
            "        location /ws/ {",
            f"            proxy_pass http://{name};",
            "            proxy_http_version 1.1;",
            "            proxy_set_header Upgrade $http_upgrade;",
            "            proxy_set_header Connection $connection_upgrade;",
            "        }",
            "        location /static/ {",
            f"            alias /srv/{name}/static/;",
            "            expires 7d;",
            "        }",
            "    }",
        ]
    lines += [
        "    server {",
        "        listen 80 default_server;",
        "        server_name _;",
        "        location /files { alias /srv/files/; autoindex on; }",
        "        location / { return 301 https://$host$request_uri; }",
        "    }",
    ]
    while len(lines) < 299:
        lines.append("    # padding to 300 lines")
    lines.append("}")
    return "\n".join(lines) + "\n"


def haproxy_config() -> str:
    lines = [
        "global",
        "    log /dev/log local0",
        "    maxconn 50000",
        "    stats socket /run/haproxy/admin.sock mode 660 level admin",
        "    ssl-default-bind-options ssl-min-ver TLSv1.2",
        "",
        "defaults",
        "    log global",
        "    mode http",
        "    option httplog",
        "    option forwardfor",
        "    option redispatch",
        "    retries 3",
        "    timeout connect 5s",
        "    timeout client 30s",
        "    timeout server 30s",
        "    timeout http-request 10s",
        "",
        "frontend public",
        "    bind :80",
        "    bind :443 ssl crt /etc/haproxy/certs/",
        "    http-request redirect scheme https unless { ssl_fc }",
    ]
    site = 0
    while len(lines) < 40:
        site += 1
        lines += [
            f"    acl host_svc{site} hdr(host) -i svc{site}.example.com",
            f"    use_backend svc{site} if host_svc{site}",
        ]
    lines.append("    default_backend svc1")
    for n in range(1, site + 1):
        if len(lines) > 280:
            break
        lines += [
            "",
            f"backend svc{n}",
            "    balance roundrobin",
            "    option httpchk GET /healthz",
            "    http-check expect status 200",
            "    cookie SRV insert indirect nocache",
        ]
        lines += [
            f"    server svc{n}-{i} svc{n}-{i}.internal:8080 check cookie s{i}"
            for i in range(1, 10)
        ]
    while len(lines) < 300:
        lines.append("    # padding to 300 lines")
    return "\n".join(lines[:300]) + "\n"


def _summary(times: list[float]) -> str:
    times = sorted(times)
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return (
        f"p50 {statistics.median(times):.3f} s, p95 {p95:.3f} s, max {times[-1]:.3f} s "
        f"({len(times)} runs)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--cli", type=int, default=0, help="also time N command-line runs")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()
    from django.utils import translation

    from apps.scenarios.engine import registry

    translation.activate("en")
    scenario = registry.get("proxy-config")
    configs = {"nginx": nginx_config(), "haproxy": haproxy_config()}
    for kind, text in configs.items():
        assert len(text.splitlines()) == 300, (kind, len(text.splitlines()))
        scenario.analyze(text, {"kind": kind})  # warm: imports, the stand-in certificate
        times, tool_times, findings = [], [], 0
        for _ in range(args.runs):
            started = time.perf_counter()
            analysis = scenario.analyze(text, {"kind": kind})
            times.append(time.perf_counter() - started)
            tool_times.append(analysis.facts["tool_seconds"])
            findings = len(analysis.findings)
            assert analysis.facts["checked"], analysis.facts["tools"]
        print(f"{kind:8} analyze(): {_summary(times)}; tools alone p50 "
              f"{statistics.median(tool_times):.3f} s; {findings} findings")  # fmt: skip
        if args.cli:
            with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as fh:
                fh.write(text)
            cli_times = []
            for _ in range(args.cli):
                started = time.perf_counter()
                subprocess.run(
                    [sys.executable, str(ROOT / "manage.py"), "scenario", "analyze",
                     "proxy-config", fh.name, "--kind", kind, "--json"],
                    capture_output=True, check=False, timeout=120,
                )  # fmt: skip
                cli_times.append(time.perf_counter() - started)
            os.unlink(fh.name)
            print(f"{kind:8} command line: {_summary(cli_times)}")
    print(f"load average: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
