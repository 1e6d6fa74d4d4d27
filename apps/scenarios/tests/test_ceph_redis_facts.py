"""The figures the Ceph and Redis pages show beside the findings (the engine renders
scenarios/<slug>_facts.html with the run's facts)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.template.loader import render_to_string
from django.utils import translation

from apps.scenarios.engine import registry
from apps.scenarios.redis_advice import collect, target
from apps.scenarios.tests.redis_servers import RedisServer

CEPH = Path(__file__).parent / "data" / "ceph"


def _render(slug: str, text: str, language: str = "en") -> str:
    with translation.override(language):
        analysis = registry.get(slug).analyze(text, {})
        name = f"scenarios/{slug.replace('-', '_')}_facts.html"
        return render_to_string(name, {"facts": analysis.to_dict(), "scenario": registry.get(slug)})


def test_ceph_facts_show_the_cluster_and_the_pg_states() -> None:
    html = _render("ceph-health", (CEPH / "host_down_status.txt").read_text())
    assert "HEALTH_WARN" in html and "9 OSDs: 6 up, 9 in" in html
    assert "192 PGs, not active+clean: 128" in html
    assert "<code>active+undersized+degraded</code></td><td>104</td>" in html
    assert "quorum ceph-mon1, ceph-mon2, ceph-mon3" in html
    russian = _render("ceph-health", (CEPH / "host_down_status.txt").read_text(), "ru")
    assert "Мониторы" in russian and "кворум" in russian


def test_redis_facts_show_the_figures_the_slow_log_and_the_biggest_keys(
    troubled_redis: tuple[RedisServer, dict[str, Any]],
) -> None:
    server, _ = troubled_redis
    snap = collect.snapshot(target.parse_url(server.url), seconds=10.0)
    html = _render("redis-advice", snap.to_json())
    assert server.url in html and "noeviction" in html
    assert "<code>KEYS</code>" in html and "<code>HGETALL</code>" in html
    assert "<code>big:hash</code></td><td>hash</td><td>200000</td>" in html
    russian = _render("redis-advice", snap.to_json(), "ru")
    assert "Самые большие ключи" in russian and "Память" in russian
