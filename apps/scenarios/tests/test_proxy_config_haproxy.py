"""proxy-config reviewing HAProxy configs with the real haproxy -c and the rules."""

from __future__ import annotations

from apps.scenarios.tests.proxy_helpers import analyze, blocking, conf, line_of, only, rules

GOOD = conf(
    """
    global
        log /dev/log local0
        chroot /var/lib/haproxy
        stats socket /run/haproxy/admin.sock mode 660 level admin
        user haproxy
        group haproxy
        daemon
        maxconn 20000
        ca-base /etc/ssl/certs
        crt-base /etc/ssl/private
        ssl-default-bind-ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256
        ssl-default-bind-options ssl-min-ver TLSv1.2 no-tls-tickets

    defaults
        log global
        mode http
        option httplog
        option forwardfor
        option redispatch
        retries 3
        timeout connect 5s
        timeout client 30s
        timeout server 30s
        timeout http-request 10s
        errorfile 503 /etc/haproxy/errors/503.http

    frontend https-in
        bind :80
        bind :443 ssl crt opsdesk.pem alpn h2,http/1.1
        http-request redirect scheme https unless { ssl_fc }
        http-request del-header X-Forwarded-For
        default_backend portal

    backend portal
        balance roundrobin
        option httpchk GET /healthz
        http-check expect status 200
        cookie SERVERID insert indirect nocache
        server portal1 portal-1.internal:8000 check cookie p1
        server portal2 portal-2.internal:8000 check cookie p2

    listen stats
        bind 127.0.0.1:8404
        stats enable
        stats uri /stats
        stats auth ops:Xq9-long-random-secret
    """
)


def test_a_sound_load_balancer_passes_haproxy_c_without_warnings() -> None:
    analysis = analyze(GOOD)
    assert analysis.facts["kind"] == "haproxy" and analysis.facts["checked"] is True
    tool = analysis.facts["tools"][0]
    assert tool["tool"] == "haproxy -c" and tool["exit"] == 0
    assert [(f.rule, f.line) for f in analysis.findings if f.severity != "info"] == []
    hosts = only(analysis, "haproxy.hosts-not-resolved")
    assert hosts.data["hosts"] == ["portal-1.internal", "portal-2.internal"]
    sections = [(s["kind"], s["name"]) for s in analysis.facts["sections"]]
    assert sections == [
        ("global", ""),
        ("defaults", ""),
        ("frontend", "https-in"),
        ("backend", "portal"),
        ("listen", "stats"),
    ]


def test_missing_timeouts_are_the_tools_warning_on_the_section_line() -> None:
    text = conf(
        """
        global
            maxconn 1000
        defaults
            mode http
            timeout connect 5s
        frontend web
            bind :80
            default_backend app
        backend app
            server a1 10.0.0.1:8080 check
        """
    )
    analysis = analyze(text)
    found = {f.line: f for f in analysis.findings if f.rule == "haproxy.missing-timeouts"}
    assert set(found) == {line_of(text, "frontend web"), line_of(text, "^backend app")}
    web = found[line_of(text, "frontend web")]
    assert web.message.startswith("[WARNING]") and "frontend 'web'" in web.message
    assert web.data["tool"] == "haproxy -c" and web.evidence == "frontend web"
    assert not analysis.failed  # HAProxy starts, with a warning


def test_backends_without_health_checks() -> None:
    text = conf(
        """
        global
            maxconn 1000
        defaults
            mode http
            timeout connect 5s
            timeout client 30s
            timeout server 30s
        frontend web
            bind :80
            default_backend app
        backend app
            balance leastconn
            server a1 10.0.0.1:8080
            server a2 10.0.0.2:8080
        """
    )
    f = only(analyze(text), "haproxy.no-health-check")
    assert f.severity == "warning" and f.line == line_of(text, "server a1")
    assert f.data["servers"] == ["a1", "a2"]


def test_http_backend_with_tcp_checks_only() -> None:
    text = conf(
        """
        defaults
            mode http
            timeout connect 5s
            timeout client 30s
            timeout server 30s
        backend app
            default-server check inter 2s fall 3 rise 2
            server a1 10.0.0.1:8080
            server a2 10.0.0.2:8080
        """
    )
    analysis = analyze(text)
    assert "haproxy.no-health-check" not in rules(analysis)  # default-server check counts
    assert only(analysis, "haproxy.tcp-check-only").line == line_of(text, "^backend app")


def test_an_open_stats_page_with_admin_rights_and_a_default_password() -> None:
    text = conf(
        """
        global
            maxconn 1000
            stats socket ipv4@0.0.0.0:9999 level admin
        defaults
            mode http
            timeout connect 5s
            timeout client 30s
            timeout server 30s
        listen stats
            bind *:8404
            stats enable
            stats uri /
            stats admin if TRUE
        listen stats2
            bind :8405
            stats enable
            stats auth admin:admin
        """
    )
    analysis = analyze(text)
    assert only(analysis, "haproxy.stats-exposed").line == line_of(text, "stats enable")
    assert only(analysis, "haproxy.stats-admin").line == line_of(text, "stats admin if TRUE")
    assert only(analysis, "haproxy.stats-weak-password").line == line_of(text, "admin:admin")
    assert only(analysis, "haproxy.stats-socket-exposed").line == 3
    assert analysis.failed


def test_old_tls_versions_weak_ciphers_and_unverified_backends() -> None:
    text = conf(
        """
        global
            maxconn 1000
            ssl-default-bind-ciphers HIGH:RC4-SHA:!aNULL
            ssl-default-bind-options ssl-min-ver TLSv1.0
        defaults
            mode http
            timeout connect 5s
            timeout client 30s
            timeout server 30s
        frontend web
            bind :443 ssl crt /etc/haproxy/certs/site.pem force-tlsv11
            default_backend app
        backend app
            server a1 10.0.0.1:8443 ssl verify none check
        """
    )
    analysis = analyze(text)
    old = {f.line for f in analysis.findings if f.rule == "haproxy.tls-old-protocols"}
    assert old == {line_of(text, "ssl-min-ver TLSv1.0"), line_of(text, "force-tlsv11")}
    weak = only(analysis, "haproxy.tls-weak-ciphers")
    assert weak.line == 3 and "RC4" in weak.message
    assert only(analysis, "haproxy.server-verify-none").line == line_of(text, "verify none")


def test_forwardfor_if_none_trusts_the_clients_header() -> None:
    text = conf(
        """
        defaults
            mode http
            option forwardfor if-none
            timeout connect 5s
            timeout client 30s
            timeout server 30s
        frontend web
            bind :80
            default_backend app
        backend app
            server a1 10.0.0.1:8080 check
        """
    )
    analysis = analyze(text)
    f = only(analysis, "haproxy.xff-if-none")
    assert f.line == 3 and f.severity == "warning"
    assert "haproxy.xff-missing" not in rules(analysis)


def test_an_unknown_keyword_is_the_tools_alert_with_the_line() -> None:
    text = conf(
        """
        defaults
            mode http
            timeout connect 5s
            timeout client 30s
            timeout server 30s
        backend app
            balance roundrobin
            server a1 10.0.0.1:8080 chek
        """
    )
    analysis = analyze(text)
    f = only(analysis, "haproxy.check")
    assert f.severity == "error" and f.line == 8 and f.message.startswith("[ALERT]")
    assert "[haproxy.cfg:8]" in f.message and "'chek'" in f.message
    assert f.evidence == "server a1 10.0.0.1:8080 chek"


def test_a_frontend_routing_to_an_undefined_backend_fails() -> None:
    text = conf(
        """
        defaults
            mode http
            timeout connect 5s
            timeout client 30s
            timeout server 30s
        frontend web
            bind :80
            use_backend api if { path_beg /api }
            default_backend app
        backend app
            server a1 10.0.0.1:8080 check
        """
    )
    analysis = analyze(text)
    assert analysis.failed
    alert = [f for f in analysis.findings if f.rule == "haproxy.check"]
    assert len(alert) == 1 and "'api'" in alert[0].message
    assert alert[0].line == line_of(text, "use_backend api")


def test_sticky_cookie_without_server_values_and_without_redispatch() -> None:
    text = conf(
        """
        defaults
            mode http
            timeout connect 5s
            timeout client 30s
            timeout server 30s
        frontend web
            bind :80
            default_backend app
        backend app
            cookie SRV insert indirect nocache
            server a1 10.0.0.1:8080 check cookie a1
            server a2 10.0.0.2:8080 check
        """
    )
    analysis = analyze(text)
    f = only(analysis, "haproxy.cookie-without-server-value")
    assert f.line == line_of(text, "server a2") and "a2" in f.message
    assert only(analysis, "haproxy.no-redispatch").line == line_of(text, "cookie SRV")


def test_certificates_pattern_files_and_maps_outside_the_upload_use_stand_ins() -> None:
    text = conf(
        """
        global
            maxconn 1000
            ssl-dh-param-file /etc/haproxy/dhparam.pem
        defaults
            mode http
            timeout connect 5s
            timeout client 30s
            timeout server 30s
            errorfile 503 /etc/haproxy/errors/503.http
        frontend web
            bind :443 ssl crt /etc/haproxy/certs/ ca-file /etc/ssl/ca.pem verify optional crt-list /etc/haproxy/crt-list.txt
            acl blocked src -f /etc/haproxy/blocklist.lst
            http-request deny if blocked
            use_backend %[req.hdr(host),lower,map_dom(/etc/haproxy/hosts.map,app)]
            default_backend app
        backend app
            server a1 10.0.0.1:8080 check
        """
    )
    analysis = analyze(text)
    assert analysis.facts["checked"] is True, blocking(analysis)
    assert "unable to" not in repr(analysis.to_dict())


def test_global_without_maxconn_and_unused_backend_and_no_logging() -> None:
    text = conf(
        """
        global
            daemon
        defaults
            mode tcp
            timeout connect 5s
            timeout client 1m
            timeout server 1m
        frontend pg
            bind :5432
            default_backend pg_primary
        backend pg_primary
            server db1 10.0.0.5:5432 check
        backend pg_old
            server db0 10.0.0.4:5432 check
        """
    )
    analysis = analyze(text)
    assert only(analysis, "haproxy.no-global-maxconn").line == 1
    assert only(analysis, "haproxy.unused-backend").line == line_of(text, "backend pg_old")
    assert only(analysis, "haproxy.no-log").severity == "info"
    assert "haproxy.xff-missing" not in rules(analysis)  # tcp mode has no headers


def test_kind_is_told_from_content_or_forced() -> None:
    text = "global\n    maxconn 100\n"
    assert analyze(text).facts["kind"] == "haproxy"
    assert analyze("events {}\n", kind="nginx").facts["kind"] == "nginx"


def test_a_bundle_of_haproxy_files_is_checked_together() -> None:
    text = conf(
        """
        ==> haproxy.cfg <==
        global
            maxconn 1000
            log /dev/log local0
        defaults
            mode http
            option forwardfor
            timeout connect 5s
            timeout client 30s
            timeout server 30s
            timeout http-request 10s

        ==> conf.d/10-web.cfg <==
        frontend web
            bind :80
            default_backend app

        ==> conf.d/20-app.cfg <==
        backend app
            option httpchk GET /health
            server a1 10.0.0.1:8080 check
            server a2 10.0.0.2:8080 chek
        """
    )
    analysis = analyze(text)
    f = only(analysis, "haproxy.check")
    assert f.where == "conf.d/20-app.cfg:4" and f.line == line_of(text, "chek")
    assert "[conf.d/20-app.cfg:4]" in f.message
    assert analysis.facts["files"] == ["haproxy.cfg", "conf.d/10-web.cfg", "conf.d/20-app.cfg"]


def test_inline_acl_braces_do_not_make_haproxy_look_like_nginx() -> None:
    text = conf(
        """
        frontend web
            bind :80
            http-request deny if { src -f /etc/haproxy/blocked.lst }
            use_backend api if { path_beg /api }
            use_backend admin if { path_beg /admin } { src 10.0.0.0/8 }
            redirect scheme https if !{ ssl_fc }
            http-request set-header X-Forwarded-Proto https if { ssl_fc }
            http-request deny if { req.hdr_cnt(host) gt 1 }
            default_backend app
        """
    )
    assert analyze(text).facts["kind"] == "haproxy"
