"""ansible and otel-pipeline: time from submit to findings for 300-line inputs, tools included.

    .venv/bin/python bench/ansible_otel_review.py [--runs 30] [--baseline 3] [--cli 3]

Builds a 300-line playbook (three plays: packages, templated configs with handlers, a
rolling restart, users, cron, a few mistakes a reviewer would catch), a 300-line
OpenTelemetry Collector config, a 300-line Data Prepper pipelines file and 300 lines of
collector and OpenSearch logs, then times what the page's submit does:
`registry.get(slug).analyze(text, params)`. For the playbook that is ansible-playbook
--syntax-check, yamllint and ansible-lint in one sandboxed run plus the risk rules.
`--baseline N` times the three tools started the usual way instead (three runner calls,
each its own interpreter, ansible-lint starting its own ansible commands), to show what
the single warm run saves. `--cli N` times `manage.py scenario analyze` (a new process each,
as a merge-request job runs it). Prints p50 / p95 / max.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def playbook() -> str:
    lines = ["---"]
    for play, group in enumerate(("webservers", "appservers", "dbservers"), start=1):
        lines += [
            f"- name: Configure the {group}",
            f"  hosts: {group}",
            '  serial: "25%"',
            "  become: true",
            "  vars:",
            f"    app_port: {8000 + play}",
            "    app_db_password: Winter2024!" if play == 2 else "    app_user: app",
            "  tasks:",
        ]
        n = 0
        while len(lines) < play * 96:
            n += 1
            lines += [
                f"    - name: Install package set {n}",
                "      ansible.builtin.package:",
                f"        name: pkg{play}-{n}",
                "        state: present",
                f"    - name: Write config {n}",
                "      ansible.builtin.template:",
                f"        src: app{n}.conf.j2",
                f"        dest: /etc/app/app{n}.conf",
                "        owner: root",
                "        group: root",
                '        mode: "0644"',
                "      notify: Reload the app",
                f"    - name: Make sure directory {n} exists",
                "      ansible.builtin.file:",
                f"        path: /srv/data{n}",
                "        state: directory",
                '        mode: "0755"',
            ]
            if n == 3:
                lines += [
                    "    - name: Clean the cache",
                    "      ansible.builtin.shell: rm -rf {{ cache_dir }}/*",
                ]
        lines += [
            "  handlers:",
            "    - name: Reload the app",
            "      ansible.builtin.service:",
            "        name: app",
            "        state: reloaded",
        ]
    while len(lines) < 300:
        lines.append("# end")
    return "\n".join(lines[:300]) + "\n"


def collector() -> str:
    lines = ["receivers:", "  otlp:", "    protocols:", "      grpc:", "      http:"]
    for i in range(1, 16):
        lines += [f"  prometheus/{i}:", "    config:", "      scrape_configs:",
                  f"        - job_name: job{i}", "          static_configs:",
                  f"            - targets: [\"svc{i}:9100\"]"]  # fmt: skip
    lines += ["processors:", "  memory_limiter:", "    check_interval: 1s", "    limit_percentage: 80",
              "    spike_limit_percentage: 20", "  batch:", "  k8sattributes:"]  # fmt: skip
    lines += ["exporters:"]
    for i in range(1, 25):
        lines += [f"  otlp/{i}:", f"    endpoint: ${{env:BACKEND_{i}}}", "    sending_queue:",
                  "      queue_size: 5000"]  # fmt: skip
    lines += ["  debug:", "service:", "  pipelines:"]
    for i in range(1, 25):
        signal = ("traces", "metrics", "logs")[i % 3]
        receivers = f"[otlp, prometheus/{i}]" if signal == "metrics" and i < 16 else "[otlp]"
        lines += [f"    {signal}/{i}:", f"      receivers: {receivers}",
                  "      processors: [memory_limiter, batch, k8sattributes]" if i == 5
                  else "      processors: [memory_limiter, batch]",
                  f"      exporters: [otlp/{i if i != 7 else 70}]"]  # fmt: skip
    while len(lines) < 300:
        lines.append("# end")
    return "\n".join(lines[:300]) + "\n"


def data_prepper() -> str:
    lines: list[str] = []
    n = 0
    while len(lines) < 285:
        n += 1
        lines += [
            f"pipe-{n}:", "  source:", "    http:", f"      path: /logs/{n}", "  buffer:",
            "    bounded_blocking:", "      buffer_size: 12800", "      batch_size: 200",
            "  processor:", "    - grok:", "        match:", "          log: [\"%{COMMONAPACHELOG}\"]",
            "  route:", "    - errors: '/status >= 500'", "  sink:", "    - opensearch:",
            "        hosts: [\"https://opensearch:9200\"]", "        username: ${OS_USER}",
            "        password: ${OS_PASSWORD}", f"        index: logs-{n}-%{{yyyy.MM.dd}}",
            "        routes: [errors]", "        max_retries: 10",
        ]  # fmt: skip
    while len(lines) < 300:
        lines.append("# end")
    return "\n".join(lines[:300]) + "\n"


def logs() -> str:
    samples = [
        '2026-12-04T10:00:01Z\twarn\tbatchprocessor\tSender failed\t{"error": "sending queue is full"}',
        "2026-12-04T10:00:02Z\tinfo\texporterhelper\tExporting failed. Will retry the request after interval.",
        "2026-12-04T10:00:03Z\tinfo\tservice\tEverything is ready. Begin running and processing data.",
        "2026-12-04T10:00:04,120 WARN OpenSearchSink - failed to parse field [http.status] of type [long]",
        "2026-12-04T10:00:05,000 INFO pipeline started",
    ]
    return "\n".join(samples[i % len(samples)] for i in range(300)) + "\n"


def _cpu() -> float:
    """CPU seconds of this process and every child it has waited for (the sandbox's tree)."""
    own, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _summary(times: list[float]) -> str:
    times = sorted(times)
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return f"p50 {statistics.median(times):.3f} s, p95 {p95:.3f} s, max {times[-1]:.3f} s ({len(times)} runs)"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument(
        "--baseline", type=int, default=0, help="time N runs of the three tools started separately"
    )
    parser.add_argument("--cli", type=int, default=0, help="also time N command-line runs")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()
    from django.utils import translation

    from apps.scenarios.ansible import tools
    from apps.scenarios.engine import registry, runner

    translation.activate("en")
    inputs = {
        "ansible playbook": ("ansible", playbook()),
        "collector config": ("otel-pipeline", collector()),
        "data prepper config": ("otel-pipeline", data_prepper()),
        "collector/opensearch logs": ("otel-pipeline", logs()),
    }
    for label, (slug, text) in inputs.items():
        assert len(text.splitlines()) == 300, (label, len(text.splitlines()))
        scenario = registry.get(slug)
        scenario.analyze(text, {})  # warm the page cache and imports once
        times, tool_times, cpu, errors = [], [], [], 0
        for _ in range(args.runs if slug == "ansible" else args.runs * 5):
            before = _cpu()
            started = time.monotonic()
            a = scenario.analyze(text, {})
            times.append(time.monotonic() - started)
            cpu.append(_cpu() - before)
            tool_times.append(float(a.facts.get("tool_seconds", 0)))
            errors = sum(1 for f in a.findings if f.severity.blocking)
        extra = f"; tools {statistics.median(tool_times):.3f} s p50" if slug == "ansible" else ""
        extra += f"; CPU {statistics.median(cpu):.2f} s p50 (all processes)"
        print(f"{label}: {_summary(times)}{extra}; {len(a.findings)} findings, {errors} errors")
    if args.baseline:
        text = playbook()
        env = {"ANSIBLE_HOME": "{dir}/.ansible", "ANSIBLE_LOCAL_TEMP": "{dir}/.ansible/tmp"}
        files = {"playbook.yml": text, ".yamllint": tools.YAMLLINT_CONFIG}
        times, cpu = [], []
        for _ in range(args.baseline):
            before = _cpu()
            started = time.monotonic()
            runner.run(
                ["ansible-playbook", "--syntax-check", "-i", "localhost,", "playbook.yml"],
                files,
                env=env,
                timeout=120,
            )
            runner.run(["yamllint", "-f", "parsable", "playbook.yml"], files, env=env, timeout=120)
            runner.run(
                ["ansible-lint", "--offline", "-f", "codeclimate", "playbook.yml"],
                files,
                env=env,
                timeout=120,
            )
            times.append(time.monotonic() - started)
            cpu.append(_cpu() - before)
        print(
            f"baseline, three separate tool processes: {_summary(times)}; CPU {statistics.median(cpu):.2f} s p50"
        )
    if args.cli:
        with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as fh:
            fh.write(playbook())
        times = []
        for _ in range(args.cli):
            started = time.monotonic()
            subprocess.run(
                [
                    sys.executable,
                    str(ROOT / "manage.py"),
                    "scenario",
                    "analyze",
                    "ansible",
                    fh.name,
                ],
                capture_output=True,
                check=False,
            )
            times.append(time.monotonic() - started)
        os.unlink(fh.name)
        print(f"command line, ansible playbook: {_summary(times)}")


if __name__ == "__main__":
    main()
