"""Memory and persistence rules: fragmentation, maxmemory and the eviction policy, evictions
and OOM refusals, hit ratio, fork time and the last save."""

from __future__ import annotations

from django.utils.translation import gettext as _

from apps.scenarios.engine.findings import Finding, Severity
from apps.scenarios.redis_advice.figures import MIB, config, count, evidence, ms, percent, size
from apps.scenarios.redis_advice.snapshot import Snapshot, to_number

# Below this much data the fragmentation ratio says little: allocator pages dominate.
FRAG_MIN_USED = 64 * MIB
FRAG_RATIO = 1.5
FRAG_MIN_BYTES = 100 * MIB
SWAP_RATIO = 0.9
NEAR_MAXMEMORY = 0.9
HIT_RATIO_LOW, HIT_RATIO_POOR = 0.8, 0.5
HIT_MIN_LOOKUPS = 10_000
FORK_WARN_USEC, FORK_ERROR_USEC = 500_000, 2_000_000
UNSAVED_SECONDS, UNSAVED_CHANGES = 3600, 1000


def fragmentation(snap: Snapshot) -> list[Finding]:
    ratio = snap.num("mem_fragmentation_ratio")
    used, rss = snap.integer("used_memory"), snap.integer("used_memory_rss")
    if ratio is None or used is None or rss is None or used < FRAG_MIN_USED:
        return []
    wasted = snap.integer("mem_fragmentation_bytes")
    wasted = rss - used if wasted is None else wasted
    ev, line = evidence(snap, "mem_fragmentation_ratio", "used_memory_rss", "used_memory")
    figures = {"ratio": ratio, "rss": rss, "used": used, "wasted": wasted}
    if ratio < SWAP_RATIO:
        return [
            Finding(
                Severity.ERROR,
                "redis.swapping",
                _(
                    "Resident memory (%(rss)s) is below the data (%(used)s): the OS has swapped Redis out."
                )
                % {"rss": size(rss), "used": size(used)},
                line,
                ev,
                why=_(
                    "Every access to a swapped page waits for the disk: latency jumps by orders of magnitude."
                ),
                fix=_(
                    "Add RAM or lower maxmemory so the data fits in memory; check `free -m` and "
                    "`vmstat 1` on the host, and set vm.swappiness low."
                ),
                refs=("mem_fragmentation_ratio", "swap"),
                data=figures,
            )
        ]
    if ratio < FRAG_RATIO or wasted < FRAG_MIN_BYTES:
        return []
    defrag = config(snap, "activedefrag")
    fix = (
        _(
            "Active defragmentation is on but not keeping up: raise active-defrag-cycle-max, or restart or fail over to a replica, which starts compact."
        )
        if defrag == "yes"
        else _(
            "With jemalloc, `CONFIG SET activedefrag yes` (and in redis.conf) reclaims it at some CPU cost; a restart or a failover to a replica also starts compact."
        )
    )
    return [
        Finding(
            Severity.WARNING,
            "redis.fragmentation",
            _(
                "Memory fragmentation %(ratio)s: %(rss)s resident for %(used)s of data, %(wasted)s wasted."
            )
            % {
                "ratio": f"{ratio:.2f}",
                "rss": size(rss),
                "used": size(used),
                "wasted": size(wasted),
            },
            line,
            ev,
            why=_(
                "Fragmented memory counts against the host's RAM but holds no data; maxmemory does not see it."
            ),
            fix=fix,
            refs=("mem_fragmentation_ratio", "activedefrag"),
            data=figures,
        )
    ]


def _oom_refusals(snap: Snapshot) -> int:
    refused = snap.fields("errorstat_OOM").get("count")
    return int(refused) if refused and refused.isdigit() else 0


def maxmemory(snap: Snapshot) -> list[Finding]:
    limit_raw = config(snap, "maxmemory", "maxmemory")
    used, rss = snap.integer("used_memory"), snap.integer("used_memory_rss")
    total = snap.integer("total_system_memory")
    policy = config(snap, "maxmemory-policy", "maxmemory_policy") or ""
    if limit_raw is None or used is None:
        return []
    limit = int(limit_raw) if limit_raw.isdigit() else 0
    ev, line = evidence(snap, "maxmemory", "maxmemory_policy", "used_memory")
    line = line or snap.line("config:maxmemory")
    out: list[Finding] = []
    refs = ("maxmemory", "maxmemory-policy")
    if limit == 0:
        if total and rss and rss > 0.75 * total:
            out.append(
                Finding(
                    Severity.ERROR,
                    "redis.maxmemory",
                    _(
                        "No maxmemory is set and Redis already holds %(share)s of the host's RAM (%(rss)s of %(total)s)."
                    )
                    % {"share": percent(rss / total), "rss": size(rss), "total": size(total)},
                    line,
                    ev,
                    why=_(
                        "Without a limit Redis grows until the kernel's OOM killer stops it or the host swaps."
                    ),
                    fix=_(
                        "Set maxmemory with headroom for forks and the OS (about two thirds of the RAM when RDB or AOF rewrites fork) and choose an eviction policy."
                    ),
                    refs=refs,
                    data={"used": used, "rss": rss, "total_system_memory": total},
                )
            )
        else:
            out.append(
                Finding(
                    Severity.INFO,
                    "redis.maxmemory",
                    _("No maxmemory is set: Redis grows until the host runs out of memory."),
                    line,
                    ev,
                    fix=_(
                        "Set maxmemory with headroom for forks and the OS, and an eviction policy that suits the data (allkeys-lru or allkeys-lfu for a cache)."
                    ),
                    refs=refs,
                    data={"used": used, "total_system_memory": total},
                )
            )
        return out
    share = used / limit
    refused = _oom_refusals(snap)
    if share >= NEAR_MAXMEMORY or policy == "noeviction":
        full = share >= 0.999
        if policy == "noeviction" and (full or refused):
            severity = Severity.CRITICAL if full else Severity.ERROR
        elif share >= NEAR_MAXMEMORY:
            severity = Severity.WARNING
        else:
            severity = Severity.WARNING if policy == "noeviction" else Severity.INFO
        message = _(
            "used_memory is %(share)s of maxmemory (%(used)s of %(limit)s), eviction policy %(policy)s."
        ) % {
            "share": percent(share),
            "used": size(used),
            "limit": size(limit),
            "policy": policy or "?",
        }
        why = (
            _(
                "With noeviction, once maxmemory is reached every write is refused with an OOM error; reads go on."
            )
            if policy == "noeviction"
            else _(
                "At maxmemory every write first evicts keys, which costs latency and drops data the clients may still want."
            )
        )
        out.append(
            Finding(
                severity,
                "redis.maxmemory",
                message,
                line,
                ev,
                why=why,
                fix=_(
                    "Raise maxmemory if the host has room, delete or expire data, or shard; for a cache use allkeys-lru or allkeys-lfu instead of noeviction."
                )
                if policy == "noeviction"
                else _("Raise maxmemory if the host has room, shorten TTLs, or shard the data."),
                refs=refs,
                data={"used": used, "maxmemory": limit, "policy": policy, "share": round(share, 4)},
            )
        )
    if total and limit > total:
        out.append(
            Finding(
                Severity.ERROR,
                "redis.maxmemory-above-ram",
                _("maxmemory (%(limit)s) is larger than the host's RAM (%(total)s).")
                % {"limit": size(limit), "total": size(total)},
                line,
                ev,
                why=_("The limit can never act: the host runs out of memory first."),
                fix=_("Set maxmemory below the RAM, leaving room for forks and the OS."),
                refs=refs,
            )
        )
    out += _volatile_without_ttl(snap, policy, line)
    return out


def _volatile_without_ttl(snap: Snapshot, policy: str, line: int | None) -> list[Finding]:
    if not policy.startswith("volatile-"):
        return []
    keyspace = snap.keyspace()
    keys = int(sum(to_number(db.get("keys")) or 0 for db in keyspace.values()))
    expires = int(sum(to_number(db.get("expires")) or 0 for db in keyspace.values()))
    if not keys or expires:
        return []
    return [
        Finding(
            Severity.WARNING,
            "redis.volatile-without-ttl",
            _(
                "The eviction policy %(policy)s only evicts keys with a TTL, and none of the %(keys)s keys has one."
            )
            % {"policy": policy, "keys": count(keys)},
            line,
            ", ".join(f"{k}:{snap.info[k]}" for k in keyspace),
            why=_(
                "Nothing can be evicted, so at maxmemory writes fail exactly as with noeviction."
            ),
            fix=_("Give cache keys a TTL, or use allkeys-lru / allkeys-lfu."),
            refs=("maxmemory-policy",),
        )
    ]


def evictions_and_refusals(snap: Snapshot) -> list[Finding]:
    out: list[Finding] = []
    uptime_h = max((snap.integer("uptime_in_seconds") or 0) / 3600, 1 / 60)
    evicted = snap.integer("evicted_keys") or 0
    policy = config(snap, "maxmemory-policy", "maxmemory_policy") or ""
    if evicted:
        ev, line = evidence(snap, "evicted_keys")
        out.append(
            Finding(
                Severity.WARNING if policy.startswith("volatile-") else Severity.INFO,
                "redis.evictions",
                _("Keys evicted since the start: %(n)s (about %(rate)s an hour).")
                % {"n": count(evicted), "rate": count(evicted / uptime_h)},
                line,
                ev,
                why=_(
                    "Evicted keys are gone before their TTL: the clients miss them and reload or lose them."
                ),
                fix=_(
                    "Raise maxmemory or shrink the data; for a cache, accept it while the hit ratio stays high."
                ),
                refs=("evicted_keys", "maxmemory-policy"),
                data={"evicted_keys": evicted, "per_hour": round(evicted / uptime_h, 1)},
            )
        )
    refused = _oom_refusals(snap)
    if refused:
        ev, line = evidence(snap, "errorstat_OOM")
        out.append(
            Finding(
                Severity.ERROR,
                "redis.oom-refused",
                _("Commands refused with OOM since the start: %(n)s; writes failed at maxmemory.")
                % {"n": count(refused)},
                line,
                ev,
                why=_(
                    "The application saw errors such as \"OOM command not allowed when used memory > 'maxmemory'\"."
                ),
                fix=_(
                    "Make room (raise maxmemory, delete or expire data) or switch a cache to an evicting policy."
                ),
                refs=("maxmemory", "noeviction", "OOM"),
                data={"refused": refused},
            )
        )
    rejected = snap.integer("rejected_connections") or 0
    if rejected:
        ev, line = evidence(snap, "rejected_connections", "maxclients")
        out.append(
            Finding(
                Severity.WARNING,
                "redis.rejected-connections",
                _("Connections rejected since the start: %(n)s; maxclients (%(max)s) was reached.")
                % {
                    "n": count(rejected),
                    "max": snap.info.get("maxclients") or config(snap, "maxclients") or "?",
                },
                line,
                ev,
                fix=_(
                    "Look for connection leaks with CLIENT LIST, use connection pooling, or raise maxclients together with the open-files limit."
                ),
                refs=("maxclients", "rejected_connections"),
                data={"rejected_connections": rejected},
            )
        )
    return out


def hit_ratio(snap: Snapshot) -> list[Finding]:
    hits, misses = snap.integer("keyspace_hits"), snap.integer("keyspace_misses")
    if hits is None or misses is None or hits + misses < HIT_MIN_LOOKUPS:
        return []
    ratio = hits / (hits + misses)
    if ratio >= HIT_RATIO_LOW:
        return []
    ev, line = evidence(snap, "keyspace_hits", "keyspace_misses")
    return [
        Finding(
            Severity.WARNING if ratio < HIT_RATIO_POOR else Severity.INFO,
            "redis.hit-ratio",
            _("Hit ratio %(ratio)s: %(hits)s hits, %(misses)s misses.")
            % {"ratio": percent(ratio), "hits": count(hits), "misses": count(misses)},
            line,
            ev,
            why=_("For a cache, every miss is a trip to the slower store behind it."),
            fix=_(
                "Check the TTLs, evictions and the key names clients ask for; low ratios are normal when clients test for keys that usually do not exist."
            ),
            refs=("keyspace_hits", "keyspace_misses"),
            data={"hits": hits, "misses": misses, "ratio": round(ratio, 4)},
        )
    ]


def persistence(snap: Snapshot) -> list[Finding]:
    out: list[Finding] = []
    fork = snap.integer("latest_fork_usec")
    if fork is not None and fork >= FORK_WARN_USEC:
        ev, line = evidence(snap, "latest_fork_usec", "used_memory")
        out.append(
            Finding(
                Severity.ERROR if fork >= FORK_ERROR_USEC else Severity.WARNING,
                "redis.fork-time",
                _("The last fork took %(time)s: Redis served nothing for that long.")
                % {"time": ms(fork)},
                line,
                ev,
                why=_(
                    "Every BGSAVE, AOF rewrite and full resync of a replica forks; the fork copies the page tables of the whole data set."
                ),
                fix=_(
                    "Keep instances smaller (shard), disable transparent huge pages, avoid hypervisors with slow fork, or persist only on a replica."
                ),
                refs=("latest_fork_usec", "fork"),
                data={"latest_fork_usec": fork},
            )
        )
    if snap.info.get("rdb_last_bgsave_status") == "err":
        ev, line = evidence(snap, "rdb_last_bgsave_status", "rdb_last_bgsave_time_sec")
        # Redis refuses writes (MISCONF) only while save points are set and this is yes.
        refusing = config(snap, "stop-writes-on-bgsave-error") == "yes" and bool(
            config(snap, "save")
        )
        message = _("The last background save failed.")
        if refusing:
            message += " " + _(
                "With save points set and stop-writes-on-bgsave-error yes, Redis refuses writes with MISCONF until a save succeeds."
            )
        out.append(
            Finding(
                Severity.CRITICAL if refusing else Severity.ERROR,
                "redis.bgsave-failed",
                message,
                line,
                ev,
                why=_(
                    "Without a recent snapshot a restart loses the changes since the last good save."
                ),
                fix=_(
                    "Read the Redis log for the reason (disk full, permissions of dir, fork failure: vm.overcommit_memory=1), fix it, then run BGSAVE."
                ),
                refs=("rdb_last_bgsave_status", "stop-writes-on-bgsave-error"),
            )
        )
    if snap.info.get("aof_enabled") == "1" and "err" in (
        snap.info.get("aof_last_bgrewrite_status"),
        snap.info.get("aof_last_write_status"),
    ):
        ev, line = evidence(snap, "aof_last_write_status", "aof_last_bgrewrite_status")
        out.append(
            Finding(
                Severity.ERROR,
                "redis.aof-failed",
                _("The append-only file failed to write or rewrite."),
                line,
                ev,
                fix=_("Read the Redis log; check the disk holding dir for space and errors."),
                refs=("appendonly", "aof_last_write_status"),
            )
        )
    out += _unsaved(snap)
    return out


def _unsaved(snap: Snapshot) -> list[Finding]:
    save = config(snap, "save")
    aof = snap.info.get("aof_enabled")
    if save == "" and aof == "0":
        ev, line = evidence(snap, "aof_enabled", "rdb_last_save_time")
        return [
            Finding(
                Severity.INFO,
                "redis.no-persistence",
                _("Neither RDB snapshots nor the AOF are on: a restart empties the instance."),
                line or snap.line("config:save"),
                ev or 'save ""',
                fix=_("Fine for a pure cache; otherwise configure save or appendonly yes."),
                refs=("save", "appendonly"),
            )
        ]
    now = snap.integer("server_time_usec")
    saved, changes = snap.integer("rdb_last_save_time"), snap.integer("rdb_changes_since_last_save")
    if not save or now is None or saved is None or not changes:
        return []
    age = now / 1_000_000 - saved
    if age < UNSAVED_SECONDS or changes < UNSAVED_CHANGES:
        return []
    ev, line = evidence(snap, "rdb_changes_since_last_save", "rdb_last_save_time")
    return [
        Finding(
            Severity.WARNING,
            "redis.unsaved-changes",
            _("Changes not saved: %(n)s; the last snapshot was taken %(hours)s h ago.")
            % {"n": count(changes), "hours": count(age / 3600)},
            line,
            ev,
            why=_("A crash now loses those changes."),
            fix=_(
                "Check that the save points in `save` match the write rate, and that BGSAVE succeeds."
            ),
            refs=("save", "rdb_changes_since_last_save"),
        )
    ]


RULES = (fragmentation, maxmemory, evictions_and_refusals, hit_ratio, persistence)
