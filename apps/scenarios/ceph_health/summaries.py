"""Health codes recognised from their one-line summaries.

`ceph status` / `ceph -s` text and the `ceph health` one-liner print each failing check's
summary without its code. The summaries come from fixed format strings in Ceph's monitor and
manager (PGMap, OSDMap, HealthMonitor, BlueStore alerts, mgr modules), so the code can be told
from the wording. A summary that matches nothing here is flagged as unrecognised, never guessed.
"""

from __future__ import annotations

import re

# Order matters where one wording contains another (nearfull vs full, deep-scrubbed vs scrubbed).
_PATTERNS: tuple[tuple[str, str], ...] = (
    ("MON_DOWN", r"^\d+/\d+ mons down, quorum\b"),
    ("MON_CLOCK_SKEW", r"^clock skew detected on\b"),
    ("MON_MSGR2_NOT_ENABLED", r"^\d+ monitors? ha(?:ve|s) not enabled msgr2"),
    ("MON_DISK_CRIT", r"^mons? .*\b(?:is|are) very low on available space"),
    ("MON_DISK_LOW", r"^mons? .*\b(?:is|are) low on available space"),
    ("MON_DISK_BIG", r"^mons? .*\b(?:is|are) using a lot of disk space"),
    ("AUTH_INSECURE_GLOBAL_ID_RECLAIM_ALLOWED", r"^mons? (?:is|are) allowing insecure global_id"),
    ("AUTH_INSECURE_GLOBAL_ID_RECLAIM", r"^clients? (?:is|are) using insecure global_id"),
    ("DAEMON_OLD_VERSION", r"^There (?:is a daemon|are daemons) running .*older version"),
    ("MGR_DOWN", r"^no active mgr\b"),
    ("MGR_MODULE_DEPENDENCY", r"^Module '[^']+' has failed dependency"),
    ("MGR_MODULE_ERROR", r"^Module '[^']+' has failed\b"),
    ("OSD_DOWN", r"^\d+ osds? down$"),
    ("OSD_<crush type>_DOWN", r"^\d+ (?P<type>[a-z][a-z0-9_-]*) \(\d+ osds?\) down$"),
    ("OSD_ORPHAN", r"^\d+ osds? exists? in the crush map but not in the osdmap"),
    ("OSD_OUT_OF_ORDER_FULL", r"^full ratio\(s\) out of order"),
    ("OSD_BACKFILLFULL", r"^\d+ backfillfull osd\(s\)"),
    ("OSD_NEARFULL", r"^\d+ nearfull osd\(s\)"),
    ("OSD_FULL", r"^\d+ full osd\(s\)"),
    ("OSD_FLAGS", r"have \{?[A-Z, ]+\}? flags? set$"),
    ("OSDMAP_FLAGS", r"^[a-z_,-]+ flag\(s\) set$"),
    ("OLD_CRUSH_TUNABLES", r"^crush map has legacy tunables"),
    ("OLD_CRUSH_STRAW_CALC_VERSION", r"^crush map has straw_calc_version=0"),
    ("CACHE_POOL_NO_HIT_SET", r"cache pools? (?:is|are) missing hit_sets"),
    ("OSD_NO_SORTBITWISE", r"'?sortbitwise'? flag is not set"),
    ("OSD_FILESTORE", r"\b[Ff]ilestore\b"),
    ("POOL_FULL", r"^\d+ pool(?:s|\(s\))? full$"),
    ("POOL_NEAR_FULL", r"^\d+ pool(?:s|\(s\))? nearfull$"),
    ("BLUEFS_SPILLOVER", r"experiencing BlueFS spillover"),
    ("BLUEFS_LOW_SPACE", r"BlueFS.*low (?:on )?space|low space.*BlueFS"),
    ("BLUEFS_AVAILABLE_SPACE", r"BlueFS.*available space"),
    ("BLUESTORE_FRAGMENTATION", r"BlueStore.*fragment|fragmentation"),
    ("BLUESTORE_LEGACY_STATFS", r"legacy \(not per-pool\) BlueStore stats"),
    ("BLUESTORE_NO_PER_POOL_OMAP", r"legacy \(not per-pool\) BlueStore omap"),
    ("BLUESTORE_NO_PER_PG_OMAP", r"legacy \(not per-pg\) BlueStore omap"),
    ("BLUESTORE_DISK_SIZE_MISMATCH", r"mismatch between BlueStore block device and free list"),
    ("BLUESTORE_NO_COMPRESSION", r"broken BlueStore compression"),
    ("BLUESTORE_SPURIOUS_READ_ERRORS", r"spurious read errors"),
    ("DEVICE_HEALTH_TOOMANY", r"^[Tt]oo many (?:daemons|devices) .*(?:expected|predicted) to fail"),
    ("DEVICE_HEALTH_IN_USE", r"(?:expected|predicted) to fail soon and .*contain data"),
    ("DEVICE_HEALTH", r"(?:expected|predicted) to fail soon"),
    ("PG_AVAILABILITY", r"^Reduced data availability:"),
    ("PG_DEGRADED", r"^Degraded data redundancy:"),
    ("PG_RECOVERY_FULL", r"^Full OSDs blocking recovery:"),
    ("PG_BACKFILL_FULL", r"^Low space hindering backfill"),
    ("PG_DAMAGED", r"^Possible data damage:"),
    ("OSD_SCRUB_ERRORS", r"^\d+ scrub errors?$"),
    ("OSD_TOO_MANY_REPAIRS", r"^Too many repaired reads on \d+ OSDs?"),
    ("LARGE_OMAP_OBJECTS", r"^\d+ large omap objects?$"),
    ("CACHE_POOL_NEAR_FULL", r"cache pools? at or near target size"),
    ("TOO_FEW_PGS", r"^too few PGs per OSD"),
    ("TOO_MANY_PGS", r"^too many PGs per OSD"),
    ("POOL_PG_NUM_NOT_POWER_OF_TWO", r"non-power-of-two pg_num"),
    ("POOL_TOO_FEW_PGS", r"pools? ha(?:ve|s) too few placement groups"),
    ("POOL_TOO_MANY_PGS", r"pools? ha(?:ve|s) too many placement groups"),
    ("POOL_TARGET_SIZE_BYTES_OVERCOMMITTED", r"overcommitted pool target_size"),
    ("POOL_HAS_TARGET_SIZE_BYTES_AND_RATIO", r"both target_size_bytes and target_size_ratio"),
    ("TOO_FEW_OSDS", r"^OSD count \d+ < osd_pool_default_size"),
    ("SMALLER_PGP_NUM", r"pools? ha(?:ve|s) pg_num > pgp_num"),
    ("MANY_OBJECTS_PER_PG", r"many more objects per pg than average"),
    ("POOL_APP_NOT_ENABLED", r"do(?:es)? not have an application enabled|application not enabled"),
    ("OBJECT_MISPLACED", r"^\d+/\d+ objects misplaced"),
    ("OBJECT_UNFOUND", r"^\d+/\d+ objects unfound"),
    ("SLOW_OPS", r"slow ops, oldest one blocked for"),
    ("PG_NOT_DEEP_SCRUBBED", r"pgs? not deep-scrubbed in time"),
    ("PG_NOT_SCRUBBED", r"pgs? not scrubbed in time"),
    ("PG_SLOW_SNAP_TRIMMING", r"snap trim queue for \d+ pg"),
    ("INCORRECT_NUM_BUCKETS_STRETCH_MODE", r"[Ss]tretch mode buckets? != 2"),
    ("UNEVEN_WEIGHTS_STRETCH_MODE", r"[Ss]tretch mode buckets have different weights"),
    ("RECENT_MGR_MODULE_CRASH", r"mgr modules? ha(?:ve|s) recently crashed"),
    ("RECENT_CRASH", r"daemons? ha(?:ve|s) recently crashed"),
    ("TELEMETRY_CHANGED", r"[Tt]elemetry requires re-opt-in"),
    ("AUTH_BAD_CAPS", r"auth entit(?:y|ies) ha(?:ve|s) invalid cap"),
    ("OSD_NO_DOWN_OUT_INTERVAL", r"mon_osd_down_out_interval set to 0"),
    ("DASHBOARD_DEBUG", r"[Dd]ashboard debug mode is enabled"),
)
# Jewel and older printed summaries without codes, and no grouped detail; the troubleshooting
# pages of the documentation still show them, so they are read as the codes that replaced them.
_LEGACY: tuple[tuple[str, str], ...] = (
    ("OSD_DOWN", r"^\d+/\d+ in osds are down$"),
    ("PG_AVAILABILITY", r"^\d+ pgs (?:stuck )?(?:down|peering|stale|incomplete|inactive)$"),
    ("PG_DAMAGED", r"^\d+ pgs inconsistent$"),
    ("PG_DEGRADED", r"^\d+ pgs (?:stuck )?(?:degraded|undersized|unclean|recovering)$"),
    ("PG_DEGRADED", r"^\d+/\d+ (?:objects )?degraded \("),
    ("OBJECT_UNFOUND", r"^\d+/\d+ (?:objects )?unfound \("),
)
_COMPILED = tuple((code, re.compile(pattern)) for code, pattern in (*_PATTERNS, *_LEGACY))


def recognise(summary: str) -> str | None:
    """The health code whose summary this is (OSD_HOST_DOWN, not the table's pattern), or
    None."""
    text = summary.strip()
    for code, pattern in _COMPILED:
        m = pattern.search(text)
        if m:
            if "type" in pattern.groupindex:
                return f"OSD_{m.group('type').upper().replace('-', '_')}_DOWN"
            return code
    return None


def covered_codes() -> set[str]:
    return {code for code, _ in _PATTERNS}


def legacy_detail_code(line: str) -> str | None:
    """Which check an ungrouped pre-Luminous detail line ('pg 0.6 is active+clean+inconsistent',
    'osd.1 is down since epoch 69') belongs to."""
    if re.match(r"^osd\.\d+ is down\b", line):
        return "OSD_DOWN"
    m = re.match(r"^pg \S+ is (?:stuck )?([a-z_+]+)", line)
    if not m:
        return None
    states = set(m.group(1).split("+"))
    if "unfound" in line:
        return "OBJECT_UNFOUND"
    if states & {"inconsistent", "snaptrim_error"}:
        return "PG_DAMAGED"
    if states & {"down", "peering", "stale", "incomplete"} or "active" not in states:
        return "PG_AVAILABILITY"
    if states & {"degraded", "undersized", "recovering", "backfilling"}:
        return "PG_DEGRADED"
    return None
