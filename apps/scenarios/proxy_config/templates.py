"""Vetted config templates: fixed blocks a reviewer has read, put together by intent.

Only checked values from intent.Intent are put in (addresses, a domain, a name, numbers,
paths); nothing else of the request reaches the text. Every combination passes `nginx -t`
or `haproxy -c` and the review's own rules without a warning (tests hold that), so what is
shown as ready is what a reviewer would accept.
"""

from __future__ import annotations

from apps.scenarios.proxy_config.intent import Intent

NGINX_CIPHERS = (
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
)


def _indent(lines: list[str], level: int) -> list[str]:
    return [("    " * level + ln) if ln else "" for ln in lines]


def _nginx_stream(it: Intent) -> str:
    servers = [f"server {b} max_fails=3 fail_timeout=10s;" for b in it.backends]
    lines = [
        "worker_processes auto;",
        "worker_rlimit_nofile 65535;",
        "",
        "events {",
        "    worker_connections 4096;",
        "}",
        "",
        "stream {",
        f"    upstream {it.name} {{",
        *_indent(["hash $remote_addr consistent;"] if it.has("sticky") else ["least_conn;"], 2),
        *_indent(servers, 2),
        "    }",
        "",
        "    server {",
        f"        listen {it.listen_port};",
        f"        proxy_pass {it.name};",
        "        proxy_connect_timeout 2s;",
        "        proxy_timeout 10m;",
        "    }",
        "}",
    ]
    return "\n".join(lines) + "\n"


def _nginx_locations(it: Intent, target: str) -> list[str]:
    out: list[str] = []
    limit = ["limit_req zone=per_client burst=20 nodelay;"] if it.has("rate_limit") else []
    if it.has("static"):
        out += [
            "location /static/ {",
            f"    alias {it.static_root}/static/;",
            "    expires 7d;",
            "    access_log off;",
            "}",
            "",
        ]
    if it.has("websocket"):
        out += [
            f"location {it.websocket_path} {{",
            f"    proxy_pass {target};",
            "    proxy_http_version 1.1;",
            "    proxy_set_header Host $host;",
            "    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
            "    proxy_set_header X-Forwarded-Proto $scheme;",
            "    proxy_set_header Upgrade $http_upgrade;",
            "    proxy_set_header Connection $connection_upgrade;",
            "    # an idle WebSocket is closed after this long without a frame",
            "    proxy_read_timeout 1h;",
            "}",
            "",
        ]
    if it.has("static") and not it.backends_wanted:
        out += [
            "location / {",
            *_indent(limit, 1),
            f"    root {it.static_root};",
            "    try_files $uri $uri/ =404;",
            "}",
        ]
    else:
        out += ["location / {", *_indent(limit, 1), f"    proxy_pass {target};", "}"]
    return out


def nginx(it: Intent) -> str:
    if it.has("tcp"):
        return _nginx_stream(it)
    tls = it.has("tls")
    proxied = it.backends_wanted
    http: list[str] = [
        "include mime.types;",
        "default_type application/octet-stream;",
        "server_tokens off;",
        "sendfile on;",
        "keepalive_timeout 65s;",
        "client_header_timeout 10s;",
        "client_body_timeout 15s;",
        "send_timeout 15s;",
        "client_max_body_size 20m;",
    ]
    if it.has("static"):
        http += ["open_file_cache max=10000 inactive=60s;", "open_file_cache_valid 60s;"]
    if it.has("gzip"):
        http += ["gzip on;", "gzip_types text/css application/javascript application/json;"]
    if proxied:
        http += [
            "",
            "proxy_connect_timeout 5s;",
            "proxy_read_timeout 60s;",
            "proxy_http_version 1.1;",
            'proxy_set_header Connection "";',
            "proxy_set_header Host $host;",
            "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
            "proxy_set_header X-Forwarded-Proto $scheme;",
        ]
    if tls:
        http += [
            "",
            "ssl_protocols TLSv1.2 TLSv1.3;",
            f"ssl_ciphers {NGINX_CIPHERS};",
            "ssl_prefer_server_ciphers off;",
            "ssl_session_cache shared:SSL:10m;",
            "ssl_session_timeout 1d;",
            "ssl_session_tickets off;",
        ]
    if it.has("rate_limit"):
        http += [
            "",
            f"limit_req_zone $binary_remote_addr zone=per_client:10m rate={it.rate}r/s;",
            "limit_req_status 429;",
        ]
    if it.has("websocket"):
        http += [
            "",
            "map $http_upgrade $connection_upgrade {",
            "    default upgrade;",
            "    '' close;",
            "}",
        ]
    target = f"http://{it.name}"
    if proxied:
        balance = ["hash $cookie_sessionid consistent;"] if it.has("sticky") else []
        if not balance and len(it.backends) > 1:
            balance = ["least_conn;"]
        passive = (
            ["# nginx checks backends passively: 3 failed requests take a server out for 10 s"]
            if it.has("health_check")
            else []
        )
        http += [
            "",
            f"upstream {it.name} {{",
            *_indent(passive + balance, 1),
            *_indent([f"server {b} max_fails=3 fail_timeout=10s;" for b in it.backends], 1),
            "    keepalive 32;",
            "}",
        ]
    main = [
        *(
            [
                "listen 443 ssl default_server;",
                f"server_name {it.domain};",
                f"ssl_certificate /etc/ssl/certs/{it.domain}.crt;",
                f"ssl_certificate_key /etc/ssl/private/{it.domain}.key;",
                'add_header Strict-Transport-Security "max-age=31536000" always;',
            ]
            if tls
            else ["listen 80 default_server;", f"server_name {it.domain};"]
        ),
        "",
        *_nginx_locations(it, target),
    ]
    servers: list[str] = []
    if tls and it.has("redirect_https"):
        servers += [
            "",
            "server {",
            "    listen 80 default_server;",
            f"    server_name {it.domain};",
            "    return 301 https://$host$request_uri;",
            "}",
        ]
    servers += ["", "server {", *_indent(main, 1), "}"]
    lines = [
        "worker_processes auto;",
        "worker_rlimit_nofile 65535;",
        "",
        "events {",
        "    worker_connections 4096;",
        "}",
        "",
        "http {",
        *_indent(http + servers, 1),
        "}",
    ]
    return "\n".join(lines) + "\n"


def haproxy(it: Intent) -> str:
    tcp = it.has("tcp")
    tls = it.has("tls") and not tcp
    glob = [
        "global",
        "    log /dev/log local0",
        "    maxconn 20000",
        "    stats socket /run/haproxy/admin.sock mode 660 level admin",
    ]
    if tls:
        glob += [
            f"    ssl-default-bind-ciphers {NGINX_CIPHERS}",
            "    ssl-default-bind-options ssl-min-ver TLSv1.2 no-tls-tickets",
        ]
    defaults = [
        "defaults",
        "    log global",
        f"    mode {'tcp' if tcp else 'http'}",
        f"    option {'tcplog' if tcp else 'httplog'}",
        *([] if tcp else ["    option forwardfor"]),
        "    option redispatch",
        "    retries 3",
        "    timeout connect 5s",
        f"    timeout client {'1h' if tcp else '30s'}",
        f"    timeout server {'1h' if tcp else '30s'}",
        *([] if tcp else ["    timeout http-request 10s"]),
    ]
    if it.has("websocket"):
        defaults.append("    timeout tunnel 1h")
    front = [f"frontend {it.name}_in"]
    if tcp:
        front.append(f"    bind :{it.listen_port}")
    else:
        front.append("    bind :80")
        if tls:
            front.append(
                f"    bind :443 ssl crt /etc/haproxy/certs/{it.domain}.pem alpn h2,http/1.1"
            )
        if it.has("redirect_https"):
            front.append("    http-request redirect scheme https code 301 unless { ssl_fc }")
        front.append("    http-request del-header X-Forwarded-For")
        if tls:
            front.append(
                '    http-response set-header Strict-Transport-Security "max-age=31536000"'
            )
        if it.has("rate_limit"):
            front += [
                "    stick-table type ip size 100k expire 30s store http_req_rate(10s)",
                "    http-request track-sc0 src",
                f"    http-request deny deny_status 429 if {{ sc_http_req_rate(0) gt {it.rate * 10} }}",
            ]
    front.append(f"    default_backend {it.name}")
    back = [f"backend {it.name}"]
    back.append(
        "    balance "
        + ("source" if tcp and it.has("sticky") else "leastconn" if tcp else "roundrobin")
    )
    if not tcp:
        back += ["    option httpchk GET /health", "    http-check expect status 200"]
    sticky = it.has("sticky") and not tcp
    if sticky:
        back.append(
            "    cookie SERVERID insert indirect nocache httponly secure"
            if tls
            else "    cookie SERVERID insert indirect nocache httponly"
        )
    back.append("    default-server check inter 2s fall 3 rise 2")
    for i, b in enumerate(it.backends, start=1):
        back.append(f"    server {it.name}{i} {b}" + (f" cookie {it.name}{i}" if sticky else ""))
    parts = [glob, defaults, front, back]
    if it.has("stats"):
        parts.append(
            [
                "listen stats",
                "    bind 127.0.0.1:8404",
                "    mode http",
                "    stats enable",
                "    stats uri /stats",
                "    stats refresh 10s",
            ]
        )
    return "\n\n".join("\n".join(p) for p in parts) + "\n"


def render(it: Intent) -> str:
    return nginx(it) if it.kind == "nginx" else haproxy(it)
