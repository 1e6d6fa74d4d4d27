"""Redis performance against real redis-server instances started by the tests: the findings
an on-call engineer expects from a live instance and from redis-cli output pasted from it."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import redis
from django.core.management import call_command
from django.utils import translation

from apps.scenarios.engine import registry
from apps.scenarios.engine.base import Analysis, InputError
from apps.scenarios.engine.findings import Severity
from apps.scenarios.redis_advice import collect, target
from apps.scenarios.tests.redis_servers import RedisServer, free_port, running

# What the collector may run, as INFO commandstats names them.
ALLOWED = {
    "info",
    "slowlog|get",
    "latency|latest",
    "latency|doctor",
    "memory|stats",
    "memory|doctor",
    "memory|usage",
    "config|get",
    "scan",
    "select",
    "type",
    "strlen",
    "hlen",
    "llen",
    "scard",
    "zcard",
    "xlen",
    "auth",
}


def analyze(text: str) -> Analysis:
    with translation.override("en"):
        return registry.get("redis-advice").analyze(text, {})


def live(server: RedisServer, **kwargs: Any) -> Analysis:
    # A generous sampling bound: the assertions must not depend on the machine's load.
    snap = collect.snapshot(target.parse_url(server.url), **({"seconds": 10.0} | kwargs))
    return analyze(snap.to_json())


def rules(analysis: Analysis) -> dict[str, Any]:
    return {f.rule: f for f in analysis.findings}


def cli(server: RedisServer, *command: str) -> str:
    """What an engineer pastes: redis-cli's output in a terminal, prompt included."""
    out = subprocess.run(
        ["redis-cli", "-p", str(server.port), "--no-raw", *command],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    return f"127.0.0.1:{server.port}> {' '.join(command)}\n{out}"


def test_live_instance_findings_name_each_induced_problem_with_its_figure(
    troubled_redis: tuple[RedisServer, dict[str, Any]],
) -> None:
    server, induced = troubled_redis
    found = rules(live(server))
    keys = found["redis.slow-keys"]
    assert keys.severity == Severity.ERROR and keys.evidence.startswith("KEYS *")
    assert "SCAN" in keys.fix
    hgetall = found["redis.slow-hgetall"]
    assert "big:hash" in hgetall.message and "200,000" in hgetall.message  # size from the sample
    assert "HSCAN" in hgetall.fix
    script = found["redis.slow-script"]
    assert script.evidence.startswith("EVAL local i = 0") and script.data["max_usec"] > 10_000
    big = found["redis.big-keys"]
    assert big.data["keys"][0]["key"] == "big:hash" and big.data["keys"][0]["length"] == 200_000
    assert big.data["keys"][0]["type"] == "hash" and big.data["keys"][0]["bytes"] > 10 * 2**20
    full = found["redis.maxmemory"]
    assert full.severity in (Severity.CRITICAL, Severity.ERROR)
    assert full.data["policy"] == "noeviction" and full.data["share"] > 0.9
    oom = found["redis.oom-refused"]
    assert oom.data["refused"] == induced["refused"] > 0
    assert oom.evidence == f"errorstat_OOM:count={induced['refused']}"
    # Nothing the engineer did not cause is reported as a problem.
    assert not {"redis.fragmentation", "redis.swapping", "redis.replica-lag"} & found.keys()


def test_the_collector_runs_only_read_only_commands_and_bounds_the_sample(
    troubled_redis: tuple[RedisServer, dict[str, Any]],
) -> None:
    server, _ = troubled_redis
    before = server.commandstats()
    snap = collect.snapshot(target.parse_url(server.url), max_keys=5_000, seconds=5.0)
    after = server.commandstats()
    used = {name for name, calls in after.items() if calls > before.get(name, 0)}
    assert used <= ALLOWED, used - ALLOWED
    assert "keys" not in used and "scan" in used and "memory|usage" in used
    assert snap.keys is not None and snap.keys.sampled == 5_000 and not snap.keys.complete
    assert snap.keys.dbsize is not None and snap.keys.dbsize > 100_000
    # Collections are sampled first, so the big hash is found even in a small sample.
    assert snap.keys.keys[0].key == "big:hash"
    with pytest.raises(collect.NotReadOnly):
        collect._guard(("FLUSHALL",))
    with pytest.raises(collect.NotReadOnly):
        collect._guard(("CONFIG", "SET", "maxmemory", "0"))


def test_earlier_snapshots_neither_push_the_slow_commands_out_nor_count_as_slow() -> None:
    # Every command is logged, as on a busy server where the sample's own SCAN and MEMORY
    # USAGE calls pass the threshold: each snapshot of 200 keys adds some 350 entries.
    with running("--slowlog-log-slower-than", "0", "--slowlog-max-len", "100000") as server:
        r = server.client()
        r.mset({f"order:{i}": "x" for i in range(200)})
        r.keys("order:*")
        for _ in range(3):
            collect.snapshot(target.parse_url(server.url), seconds=10.0)
        assert int(r.execute_command("SLOWLOG", "LEN")) > 6 * collect.SLOWLOG_ENTRIES
        snap = collect.snapshot(target.parse_url(server.url), seconds=10.0)
    commands = [" ".join(e.args[:2]).upper() for e in snap.slowlog]
    assert "KEYS ORDER:*" in commands
    assert "INFO ALL" not in commands
    assert not {"SCAN", "MEMORY", "TYPE", "STRLEN", "CONFIG"} & {c.split()[0] for c in commands}
    found = rules(analyze(snap.to_json()))
    assert found["redis.slow-keys"].severity == Severity.ERROR


def test_pasted_redis_cli_output_gives_the_same_findings_with_line_numbers(
    troubled_redis: tuple[RedisServer, dict[str, Any]],
) -> None:
    server, induced = troubled_redis
    text = "\n".join(
        [
            cli(server, "INFO", "ALL"),
            # All entries: the tests' own collections may be in the slow log of a busy machine.
            cli(server, "SLOWLOG", "GET", "-1"),
            cli(server, "LATENCY", "LATEST"),
            cli(server, "LATENCY", "DOCTOR"),
            cli(server, "MEMORY", "STATS"),
            cli(server, "MEMORY", "DOCTOR"),
            cli(server, "CONFIG", "GET", "maxmemory*"),
        ]
    )
    analysis = analyze(text)
    found = rules(analysis)
    lines = text.splitlines()
    for rule in ("redis.slow-keys", "redis.slow-hgetall", "redis.slow-script"):
        assert rule in found, rule
        line = found[rule].line
        # The line where the slow-log entry starts: "N) 1) (integer) <id>".
        assert line is not None and re.match(r" *\d+\) 1\) \(integer\) \d+$", lines[line - 1])
    assert found["redis.oom-refused"].data["refused"] == induced["refused"]
    assert lines[found["redis.oom-refused"].line - 1] == f"errorstat_OOM:count={induced['refused']}"
    assert found["redis.maxmemory"].data["policy"] == "noeviction"
    assert "redis.lines-not-read" not in found
    assert analysis.facts["latency_doctor"].startswith("Dave")
    assert analysis.facts["config"]["maxmemory-policy"] == "noeviction"
    assert analysis.facts["slowlog"]["KEYS"]["count"] >= 1


def test_info_alone_still_flags_keys_and_says_what_is_missing(
    troubled_redis: tuple[RedisServer, dict[str, Any]],
) -> None:
    server, _ = troubled_redis
    found = rules(analyze(cli(server, "INFO", "ALL")))
    assert found["redis.slow-keys"].severity == Severity.WARNING  # from commandstats
    assert found["redis.slow-keys"].evidence.startswith("cmdstat_keys:calls=")
    assert "SLOWLOG GET 128" in found["redis.not-given"].message


def test_latency_and_bigkeys_output_alone_are_read(
    troubled_redis: tuple[RedisServer, dict[str, Any]],
) -> None:
    server, _ = troubled_redis
    found = rules(analyze(cli(server, "LATENCY", "LATEST")))
    assert found["redis.latency-event"].data["event"] == "command"
    assert found["redis.latency-event"].data["max_ms"] >= 100
    bigkeys = subprocess.run(
        ["redis-cli", "-p", str(server.port), "--bigkeys"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    big = rules(analyze(bigkeys))["redis.big-keys"]
    assert big.data["keys"][0]["key"] == "big:hash" and big.data["keys"][0]["length"] == 200_000
    assert big.data["method"] == "bigkeys" and big.data["complete"]


def test_a_failed_save_that_stops_writes_is_critical() -> None:
    with running("--save", "3600 1", "--enable-protected-configs", "yes") as server:
        r = server.client()
        r.set("k", "v")
        gone = server.dir / "gone"
        gone.mkdir()
        r.config_set("dir", str(gone))
        gone.rmdir()
        r.bgsave()
        for _ in range(200):  # the server notices the failed child on its next cron tick
            if server.info("persistence")["rdb_last_bgsave_status"] == "err":
                break
            time.sleep(0.05)
        with pytest.raises(redis.ResponseError, match="MISCONF"):
            r.set("k", "w")
        found = rules(live(server))
        failed = found["redis.bgsave-failed"]
        assert failed.severity == Severity.CRITICAL and "MISCONF" in failed.message
        assert failed.evidence.startswith("rdb_last_bgsave_status:err")


def test_a_replica_that_lost_its_master_is_an_error() -> None:
    with running("--replicaof", "127.0.0.1", str(free_port())) as server:
        found = rules(live(server))
        down = found["redis.replication-link-down"]
        assert down.severity == Severity.ERROR
        assert "master_link_status:down" in down.evidence


def test_a_healthy_cache_raises_nothing(healthy_redis: RedisServer) -> None:
    analysis = live(healthy_redis)
    assert [f.rule for f in analysis.findings if f.severity != Severity.INFO] == []
    assert analysis.facts["hit_ratio"] == 1.0
    assert (
        analysis.facts["keys_sample"]["complete"]
        and analysis.facts["keys_sample"]["sampled"] == 1000
    )


# --- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "hello world\n",
        "name: opsdesk\nversion: 1\n",
        "HEALTH_WARN 1 osds down\n[WRN] OSD_DOWN: 1 osds down\n",
        '{"status": "HEALTH_OK"}',
    ],
)
def test_what_is_not_redis_output_is_refused(text: str) -> None:
    with pytest.raises(InputError) as exc:
        analyze(text)
    assert exc.value.message.startswith("not INFO output: no redis_version")


def test_a_malformed_snapshot_is_refused() -> None:
    with pytest.raises(InputError):
        analyze('{"format": "opsdesk.redis-snapshot/1", "slowlog": [{"nope": 1}]}')


@pytest.mark.parametrize(
    "url",
    [
        "unix:///var/run/redis/redis.sock",
        "redis:///var/lib/opsdesk/db.sqlite3",
        "file:///etc/passwd",
        "http://127.0.0.1:6379/",
        "redis://host:6379/0?unix_socket_path=/tmp/x",
        "redis://host:99999/0",
        "redis://host/secret",
        "redis://host:6379/0#x",
        "redis://host\r\nFLUSHALL:6379/0",
        "",
    ],
)
def test_hostile_or_wrong_urls_are_refused(url: str) -> None:
    with pytest.raises(InputError):
        target.parse_url(url)


def test_urls_that_are_accepted() -> None:
    t = target.parse_url("rediss://ops:s%40cret@cache-1.prod:6380/2")
    assert (t.host, t.port, t.db, t.tls, t.username, t.password) == (
        "cache-1.prod",
        6380,
        2,
        True,
        "ops",
        "s@cret",
    )
    assert t.display() == "rediss://ops@cache-1.prod:6380/2"
    assert target.parse_url("redis://[::1]").display() == "redis://[::1]:6379/0"


def test_the_portal_own_redis_is_recognised(settings: Any) -> None:
    settings.REDIS_URL = "redis://127.0.0.1:6379/7"
    assert target.is_portal_redis(target.parse_url("redis://localhost:6379/0"))
    assert not target.is_portal_redis(target.parse_url("redis://localhost:6380/0"))


# --- command line ------------------------------------------------------------------------


def _cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(SystemExit) as exc:
        call_command("scenario", "analyze", "redis-advice", *args, stdout=out, stderr=err)
    return int(exc.value.code or 0), out.getvalue(), err.getvalue()


def test_command_line_live_pasted_and_unreachable(
    troubled_redis: tuple[RedisServer, dict[str, Any]], tmp_path: Path
) -> None:
    server, _ = troubled_redis
    code, out, _ = _cli("--redis-url", server.url, "--json")
    assert code == 1 and "redis.slow-keys" in {f["rule"] for f in json.loads(out)["findings"]}
    paste = tmp_path / "info.txt"
    paste.write_text(cli(server, "INFO", "ALL"))
    code, out, _ = _cli(str(paste))
    assert code == 1 and "[redis.oom-refused]" in out
    code, _, err = _cli("--redis-url", f"redis://127.0.0.1:{free_port()}/0")
    assert code == 2 and "cannot read the instance" in err
    code, _, err = _cli("--redis-url", "unix:///tmp/redis.sock")
    assert code == 2 and "redis://" in err


def test_command_line_takes_the_password_from_rediscli_auth(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with running("--requirepass", "s3cret-pass") as server:
        code, _, err = _cli("--redis-url", server.url)
        assert code == 2 and "cannot read the instance" in err
        monkeypatch.setenv("REDISCLI_AUTH", "s3cret-pass")
        code, out, _ = _cli("--redis-url", server.url, "--json")
        assert code == 0 and json.loads(out)["redis_version"]
        assert os.environ["REDISCLI_AUTH"] not in out


def test_findings_are_in_russian_by_default(
    troubled_redis: tuple[RedisServer, dict[str, Any]],
) -> None:
    server, _ = troubled_redis
    text = collect.snapshot(target.parse_url(server.url)).to_json()
    with translation.override("ru"):
        analysis = registry.get("redis-advice").analyze(text, {})
    assert analysis.findings
    for finding in analysis.findings:
        for part in (finding.message, finding.fix):
            assert not part or re.search("[а-яА-Я]", part), part


@pytest.mark.parametrize(
    "text",
    [
        "redis_version:7\ncmdstat_keys:calls=abc,usec_per_call=x\nerrorstat_OOM:count=zz\n",
        "redis_version:7\nused_memory:abc\nmaxmemory:-5\nmem_fragmentation_ratio:nan\nkeyspace_hits:1e400\nkeyspace_misses:0\n",
        "redis_version:7\ndb0:keys=x,expires=y\nmaxmemory_policy:volatile-lru\nmaxmemory:100\nused_memory:200\n",
        "redis_version:7\nrole:master\nmaster_repl_offset:x\nslave0:ip=1,port=2,state=online,offset=zz,lag=q\n",
        "redis_version:7\nmaxclients:many\nconnected_clients:9\n",
    ],
)
def test_garbled_figures_are_skipped_not_fatal(text: str) -> None:
    analysis = analyze(text)
    assert analysis.facts["redis_version"] == "7"


@pytest.mark.parametrize(
    "text",
    [
        "127.0.0.1:6379> SLOWLOG GET\n1) 1) (integer) 1\n   2) (integer) 2\n   3) (integer) 3\n   4) "
        + "1) " * 20_000
        + '"x"\n',
        '{"format": "opsdesk.redis-snapshot/1", "keys": {"keys": [{"key": 1}]}}',
        '{"format": "opsdesk.redis-snapshot/1", "slowlog": [{"id": "a", "timestamp": 1, "usec": 2, "args": 5}]}',
        '{"format": "opsdesk.redis-snapshot/1", "info": {"used_memory": [1, 2]}}',
        "[" * 100_000 + "]" * 100_000,
        "{" + '"a":{' * 100_000 + "}" * 100_001,
    ],
)
def test_hostile_pastes_are_refused_cleanly(text: str) -> None:
    with pytest.raises(InputError):
        analyze(text)
