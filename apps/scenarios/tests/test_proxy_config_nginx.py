"""proxy-config reviewing nginx configs with the real nginx -t, gixy-ng and the rules.

Each case is a config a colleague could put in a merge request, with the findings a
reviewer would expect (and, for the good ones, the findings a reviewer would not accept).
"""

from __future__ import annotations

from apps.scenarios.tests.proxy_helpers import analyze, blocking, conf, line_of, only, rules

GOOD = conf(
    """
    user www-data;
    worker_processes auto;
    worker_rlimit_nofile 65535;
    pid /run/nginx.pid;

    events { worker_connections 4096; }

    http {
        include /etc/nginx/mime.types;
        server_tokens off;
        access_log /var/log/nginx/access.log;
        client_header_timeout 10s;
        client_body_timeout 15s;
        client_max_body_size 20m;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256;
        proxy_connect_timeout 5s;
        proxy_set_header Host $host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;

        upstream portal {
            server portal-1.internal:8000 max_fails=3 fail_timeout=10s;
            server portal-2.internal:8000 max_fails=3 fail_timeout=10s;
        }

        server {
            listen 80 default_server;
            server_name opsdesk.example.com;
            return 301 https://$host$request_uri;
        }

        server {
            listen 443 ssl default_server;
            server_name opsdesk.example.com;
            ssl_certificate /etc/ssl/certs/opsdesk.crt;
            ssl_certificate_key /etc/ssl/private/opsdesk.key;
            ssl_dhparam /etc/ssl/dhparam.pem;
            add_header Strict-Transport-Security "max-age=31536000" always;

            location / {
                proxy_pass http://portal;
            }
        }
    }
    """
)


def test_a_sound_reverse_proxy_passes_nginx_t_and_gets_no_warnings() -> None:
    analysis = analyze(GOOD)
    assert analysis.facts["kind"] == "nginx" and analysis.facts["checked"] is True
    nginx_t = analysis.facts["tools"][0]
    assert nginx_t["tool"] == "nginx -t" and nginx_t["ran"] and nginx_t["exit"] == 0
    assert analysis.facts["tools"][1]["ran"]  # gixy-ng ran too
    serious = [(f.rule, f.line) for f in analysis.findings if f.severity != "info"]
    assert serious == []
    # the unresolvable backends are checked as loopback and said so, not failed
    hosts = only(analysis, "nginx.hosts-not-resolved")
    assert hosts.data["hosts"] == ["portal-1.internal", "portal-2.internal"]


def test_an_unknown_directive_is_the_tools_own_message_on_its_line() -> None:
    text = conf(
        """
        events {}
        http {
            server {
                listen 80;
                location / {
                    proxy_pass http://127.0.0.1:8080;
                    proxy_buffer 4k;
                }
            }
        }
        """
    )
    analysis = analyze(text)
    f = only(analysis, "nginx.check")
    assert f.severity == "error" and analysis.failed
    assert f.line == line_of(text, "proxy_buffer 4k") == 7
    assert f.message == '[emerg] unknown directive "proxy_buffer" in nginx.conf:7'
    assert f.evidence == "proxy_buffer 4k;"
    assert "proxy_buffers" in f.fix  # a close match offered
    assert "opsdesk-tool" not in repr(analysis.to_dict())  # temp paths stripped


def test_nginx_stops_at_the_first_error_but_crossplane_lists_the_others() -> None:
    text = conf(
        """
        events {}
        http {
            proxy_pass http://127.0.0.1:8080;
            server {
                listen 80;
                server_name a.example.com;
                location / { root /srv/www; }
                root /srv/a /srv/b;
            }
        }
        """
    )
    analysis = analyze(text)
    check = only(analysis, "nginx.check")
    assert check.line == 3 and '"proxy_pass" directive is not allowed here' in check.message
    more = only(analysis, "nginx.parse")
    assert more.line == line_of(text, "root /srv/a /srv/b") and "arguments" in more.message


def test_gixy_checks_alias_traversal_ssrf_and_host_spoofing() -> None:
    text = conf(
        """
        events {}
        http {
            server_tokens off;
            server {
                listen 80;
                server_name files.example.com;
                location /static {
                    alias /srv/static/;
                }
                location /fetch {
                    proxy_pass http://$arg_target;
                }
                location / {
                    proxy_set_header Host $http_host;
                    proxy_pass http://127.0.0.1:8080;
                }
            }
        }
        """
    )
    analysis = analyze(text)
    alias = only(analysis, "gixy.alias_traversal")
    assert alias.line == line_of(text, "alias /srv/static/") and alias.severity == "error"
    ssrf = only(analysis, "gixy.ssrf")
    assert ssrf.line == line_of(text, "$arg_target") and "$arg_target" in ssrf.message
    spoof = only(analysis, "gixy.host_spoofing")
    assert spoof.line == line_of(text, "$http_host") and "$host" in spoof.fix
    assert any(r.startswith("https://") for r in ssrf.refs)  # gixy's reference kept


def test_add_header_in_a_location_drops_the_servers_security_headers() -> None:
    text = conf(
        """
        events {}
        http {
            server_tokens off;
            server {
                listen 80;
                add_header X-Frame-Options DENY;
                add_header X-Content-Type-Options nosniff;
                location /api/ {
                    add_header Cache-Control no-store;
                    proxy_pass http://127.0.0.1:8080;
                }
            }
        }
        """
    )
    f = only(analyze(text), "gixy.add_header_redefinition")
    assert "x-frame-options" in f.message.lower() and f.severity == "warning"


def test_version_disclosure_and_weak_tls_are_reported() -> None:
    text = conf(
        """
        events {}
        http {
            server_tokens on;
            ssl_protocols TLSv1 TLSv1.1 TLSv1.2;
            ssl_ciphers HIGH:!aNULL:RC4;
            server {
                listen 443 ssl;
                ssl_certificate /etc/ssl/site.crt;
                ssl_certificate_key /etc/ssl/site.key;
                add_header Strict-Transport-Security "max-age=63072000" always;
            }
        }
        """
    )
    analysis = analyze(text)
    assert only(analysis, "gixy.version_disclosure").line == 3
    weak = [f for f in analysis.findings if f.rule == "gixy.weak_ssl_tls"]
    assert {f.line for f in weak} == {4, 5} and all(f.severity == "error" for f in weak)
    assert "nginx.tls-protocols-default" not in rules(analysis)  # set explicitly
    assert analysis.facts["checked"] is True  # the stand-in certificate loaded


def test_tls_server_without_ssl_protocols_gets_the_version_dependent_default_warning() -> None:
    text = conf(
        """
        events {}
        http {
            server_tokens off;
            server {
                listen 443 ssl;
                ssl_certificate /etc/letsencrypt/live/x/fullchain.pem;
                ssl_certificate_key /etc/letsencrypt/live/x/privkey.pem;
                add_header Strict-Transport-Security "max-age=63072000" always;
            }
        }
        """
    )
    f = only(analyze(text), "nginx.tls-protocols-default")
    assert f.line == line_of(text, "server {") and f.fix == "ssl_protocols TLSv1.2 TLSv1.3;"


def test_listen_443_without_ssl_serves_plain_http() -> None:
    text = conf(
        """
        events {}
        http {
            server {
                listen 443;
                server_name shop.example.com;
                ssl_certificate /etc/ssl/shop.crt;
                ssl_certificate_key /etc/ssl/shop.key;
            }
        }
        """
    )
    f = only(analyze(text), "nginx.listen-443-without-ssl")
    assert f.severity == "error" and f.line == 4


def test_websocket_location_without_http_1_1_cannot_upgrade() -> None:
    text = conf(
        """
        events {}
        http {
            server {
                listen 80;
                location /ws/ {
                    proxy_pass http://127.0.0.1:9000;
                    proxy_set_header Upgrade $http_upgrade;
                }
            }
        }
        """
    )
    analysis = analyze(text)
    f = only(analysis, "nginx.websocket-http10")
    assert f.severity == "error" and f.line == line_of(text, "Upgrade $http_upgrade")
    assert only(analysis, "nginx.websocket-connection").severity == "warning"


def test_upstream_keepalive_without_http_1_1_is_unused() -> None:
    text = conf(
        """
        events {}
        http {
            upstream api { server 10.0.0.10:8080; keepalive 32; }
            server {
                listen 80;
                location / { proxy_pass http://api; }
                location /v2/ {
                    proxy_http_version 1.1;
                    proxy_set_header Connection "";
                    proxy_pass http://api;
                }
            }
        }
        """
    )
    found = [f for f in analyze(text).findings if f.rule == "nginx.upstream-keepalive-unused"]
    assert [f.line for f in found] == [line_of(text, "location / { proxy_pass")]


def test_proxy_set_header_in_a_location_drops_the_inherited_ones() -> None:
    text = conf(
        """
        events {}
        http {
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            server {
                listen 80;
                location /api/ {
                    proxy_set_header X-Request-Id $request_id;
                    proxy_pass http://127.0.0.1:8080;
                }
            }
        }
        """
    )
    analysis = analyze(text)
    f = only(analysis, "nginx.proxy-set-header-dropped")
    assert f.data["dropped"] == ["host", "x-forwarded-for"]
    assert f.line == line_of(text, "X-Request-Id")
    assert only(analysis, "nginx.xff-missing").line == line_of(text, "proxy_pass http://127")


def test_forwarded_for_passed_through_and_realip_trusting_everyone() -> None:
    text = conf(
        """
        events {}
        http {
            set_real_ip_from 0.0.0.0/0;
            real_ip_header X-Forwarded-For;
            server {
                listen 80;
                location / {
                    proxy_set_header X-Forwarded-For $http_x_forwarded_for;
                    proxy_pass http://127.0.0.1:8080;
                }
            }
        }
        """
    )
    analysis = analyze(text)
    assert only(analysis, "nginx.realip-trusts-everyone").severity == "error"
    xff = only(analysis, "nginx.xff-passthrough")
    assert xff.line == 8 and "$proxy_add_x_forwarded_for" in xff.fix
    assert "nginx.xff-missing" not in rules(analysis)


def test_unlimited_bodies_unbuffered_proxying_and_autoindex() -> None:
    text = conf(
        """
        events {}
        http {
            client_max_body_size 0;
            proxy_buffering off;
            server {
                listen 80;
                location /files/ { root /srv; autoindex on; }
                location /events { proxy_pass http://127.0.0.1:8080; proxy_buffering off; }
            }
        }
        """
    )
    analysis = analyze(text)
    assert only(analysis, "nginx.client-max-body-size").severity == "warning"
    buffering = {
        f.line: f.severity for f in analysis.findings if f.rule == "nginx.proxy-buffering-off"
    }
    assert buffering == {4: "warning", 8: "info"}  # http-wide is risky, one location is a choice
    assert only(analysis, "nginx.autoindex").line == 7


def test_a_server_block_snippet_is_checked_inside_a_generated_http_block() -> None:
    text = conf(
        """
        # sites-available/shop.conf
        upstream shop { server 127.0.0.1:3000; }
        server {
            listen 80;
            server_name shop.example.com;
            location / {
                proxy_pass http://shop;
                proxy_read_timout 30s;
            }
        }
        """
    )
    analysis = analyze(text)
    assert analysis.facts["context"] == "http"
    f = only(analysis, "nginx.check")
    assert f.line == line_of(text, "proxy_read_timout") and "proxy_read_timeout" in f.fix


def test_a_location_snippet_is_checked_inside_a_generated_server() -> None:
    text = conf(
        """
        location /api/ {
            proxy_pass http://127.0.0.1:8080/;
            proxy_connect_timeout 3s;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        }
        """
    )
    analysis = analyze(text)
    assert analysis.facts["context"] == "server" and analysis.facts["checked"] is True
    assert blocking(analysis) == []


def test_a_stream_tcp_balancer_loads_the_stream_module() -> None:
    text = conf(
        """
        events {}
        stream {
            upstream postgres {
                server db-1.internal:5432;
                server db-2.internal:5432 backup;
            }
            server {
                listen 5432;
                proxy_pass postgres;
                proxy_connect_timeout 2s;
            }
        }
        """
    )
    analysis = analyze(text)
    assert analysis.facts["checked"] is True and blocking(analysis) == []
    assert "nginx.xff-missing" not in rules(analysis)  # no HTTP in a TCP proxy


def test_a_bundle_with_absolute_includes_under_etc_nginx_is_checked_as_one_config() -> None:
    text = conf(
        """
        ==> /etc/nginx/nginx.conf <==
        events {}
        http {
            include /etc/nginx/mime.types;
            include /etc/nginx/conf.d/*.conf;
        }

        ==> /etc/nginx/conf.d/app.conf <==
        server {
            listen 80;
            location / { proxy_pass http://127.0.0.1:8080; proxy_buffer 4k; }
        }

        ==> /etc/nginx/conf.d/unused.txt <==
        server_tokens on;
        """
    )
    analysis = analyze(text)
    assert analysis.facts["files"] == ["nginx.conf", "conf.d/app.conf", "conf.d/unused.txt"]
    f = only(analysis, "nginx.check")
    assert f.where == "conf.d/app.conf:3" and f.line == line_of(text, "proxy_buffer 4k")
    assert f.message.endswith("in conf.d/app.conf:3")
    assert only(analysis, "nginx.not-included").where == "conf.d/unused.txt"


def test_two_default_servers_on_one_port_name_the_users_address() -> None:
    text = conf(
        """
        events {}
        http {
            server { listen 80 default_server; return 444; }
            server { listen *:80 default_server; server_name x; }
        }
        """
    )
    f = only(analyze(text), "nginx.check")
    assert f.line == 4 and "duplicate default server for 0.0.0.0:80" in f.message


def test_debian_stock_config_with_its_default_site_passes() -> None:
    text = conf(
        """
        ==> /etc/nginx/nginx.conf <==
        user www-data;
        worker_processes auto;
        pid /run/nginx.pid;
        error_log /var/log/nginx/error.log;
        include /etc/nginx/modules-enabled/*.conf;

        events {
            worker_connections 768;
        }

        http {
            sendfile on;
            tcp_nopush on;
            types_hash_max_size 2048;
            include /etc/nginx/mime.types;
            default_type application/octet-stream;
            ssl_protocols TLSv1.2 TLSv1.3;
            ssl_prefer_server_ciphers on;
            access_log /var/log/nginx/access.log;
            gzip on;
            include /etc/nginx/conf.d/*.conf;
            include /etc/nginx/sites-enabled/*;
        }

        ==> /etc/nginx/sites-enabled/default <==
        server {
            listen 80 default_server;
            listen [::]:80 default_server;
            root /var/www/html;
            index index.html index.htm index.nginx-debian.html;
            server_name _;
            location / {
                try_files $uri $uri/ =404;
            }
        }
        """
    )
    analysis = analyze(text)
    assert analysis.facts["checked"] is True, blocking(analysis)
    assert "gixy.version_disclosure" in rules(analysis)  # stock Debian leaves server_tokens on


# --- examples of the nginx documentation, as colleagues copy them -----------------------


def test_the_docs_load_balancing_example_passes_with_reviewer_notes() -> None:
    text = conf(
        """
        events {}
        http {
            upstream myapp1 {
                ip_hash;
                server srv1.example.com;
                server srv2.example.com;
                server srv3.example.com;
            }

            server {
                listen 80;

                location / {
                    proxy_pass http://myapp1;
                }
            }
        }
        """
    )
    analysis = analyze(text)
    assert analysis.facts["checked"] is True and not analysis.failed
    assert only(analysis, "nginx.proxy-connect-timeout").line == line_of(text, "proxy_pass")
    assert only(analysis, "nginx.xff-missing").severity == "info"
    hosts = only(analysis, "nginx.hosts-not-resolved").data["hosts"]
    assert hosts == ["srv1.example.com", "srv2.example.com", "srv3.example.com"]


def test_the_docs_websocket_example_needs_http_1_1_on_older_nginx() -> None:
    text = conf(
        """
        events {}
        http {
            map $http_upgrade $connection_upgrade {
                default upgrade;
                ''      close;
            }
            upstream backend { server 127.0.0.1:9000; }
            server {
                listen 80;
                location /chat/ {
                    proxy_pass http://backend;
                    proxy_set_header Upgrade $http_upgrade;
                    proxy_set_header Connection $connection_upgrade;
                }
            }
        }
        """
    )
    analysis = analyze(text)
    f = only(analysis, "nginx.websocket-http10")
    assert "1.29.7" in f.message and f.line == line_of(text, "Upgrade $http_upgrade")
    assert "nginx.websocket-connection" not in rules(analysis)


def test_the_docs_https_server_with_relative_certificate_names_is_checked() -> None:
    text = conf(
        """
        worker_processes auto;
        events {}
        http {
            ssl_session_cache   shared:SSL:10m;
            ssl_session_timeout 10m;
            server_tokens off;

            server {
                listen              443 ssl;
                server_name         www.example.com;
                keepalive_timeout   70;

                ssl_certificate     www.example.com.crt;
                ssl_certificate_key www.example.com.key;
                ssl_protocols       TLSv1.2 TLSv1.3;
                ssl_ciphers         HIGH:!aNULL:!MD5;
                add_header Strict-Transport-Security "max-age=31536000" always;
            }
        }
        """
    )
    analysis = analyze(text)
    assert analysis.facts["checked"] is True and blocking(analysis) == []
    # HIGH is not a proven weakness: gixy-ng cannot expand it, so it is a question to check
    assert only(analysis, "gixy.weak_ssl_tls").severity == "warning"


def test_an_include_missing_from_the_upload_is_the_tools_error_with_a_hint() -> None:
    text = "events {}\nhttp {\n    server {\n        include snippets/letsencrypt.conf;\n    }\n}\n"
    f = only(analyze(text), "nginx.check")
    assert f.line == 4 and 'open() "snippets/letsencrypt.conf" failed' in f.message
    assert "==>" in f.fix


def test_https_backends_without_certificate_verification() -> None:
    text = conf(
        """
        events {}
        http {
            server {
                listen 80;
                location /billing/ { proxy_pass https://billing.internal:8443; }
                location /auth/ {
                    proxy_ssl_verify on;
                    proxy_ssl_trusted_certificate /etc/ssl/internal-ca.pem;
                    proxy_pass https://auth.internal:8443;
                }
            }
        }
        """
    )
    analysis = analyze(text)
    f = only(analysis, "nginx.upstream-tls-unverified")
    assert f.line == line_of(text, "billing.internal") and analysis.facts["checked"] is True


def test_an_rsa_and_ecdsa_pair_loads_and_default_ciphers_are_only_a_question() -> None:
    text = conf(
        """
        events {}
        http {
            server_tokens off;
            server {
                listen 443 ssl;
                ssl_certificate /etc/ssl/rsa.crt;
                ssl_certificate_key /etc/ssl/rsa.key;
                ssl_certificate /etc/ssl/ecdsa.crt;
                ssl_certificate_key /etc/ssl/ecdsa.key;
                ssl_protocols TLSv1.2 TLSv1.3;
                add_header Strict-Transport-Security "max-age=31536000" always;
            }
        }
        """
    )
    analysis = analyze(text)
    assert analysis.facts["checked"] is True and blocking(analysis) == []
    assert only(analysis, "gixy.weak_ssl_tls").severity == "warning"
