"""Health codes of the reference's Data health section (pools and placement groups)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from apps.scenarios.ceph_health.codes import DATA, SUBTREE_DOWN, Care, HealthCode, Impact

ERR = "HEALTH_ERR"
_OSDS_GONE = ("OSD_DOWN", SUBTREE_DOWN)
_HIDES = _("only hides the warning; the cause stays")
_PG_NUM = Care("ceph osd pool set <pool> pg_num <n>", _("moves data; the autoscaler can do it"))
_AUTOSCALE = Care(
    "ceph osd pool set <pool> pg_autoscale_mode on",
    _("the autoscaler starts changing pg_num, which moves data"),
)
_REPAIR_PG = Care(
    "ceph pg repair <pgid>",
    _("overwrites the other copies with the one Ceph trusts: check which copy is bad first"),
)
_QUOTA = Care(
    "ceph osd pool set-quota <pool> max_bytes|max_objects <value>",
    _("a larger or no quota lets the pool grow into space other pools need"),
)

CODES: tuple[HealthCode, ...] = (
    # --- Data health -----------------------------------------------------------------------
    HealthCode(
        "PG_AVAILABILITY",
        (DATA,),
        Impact.AVAILABILITY,
        _(
            "Some placement groups cannot serve I/O (inactive, peering, stale, incomplete or "
            "down): clients of those pools hang."
        ),
        _("Find the stuck PGs and the OSDs they wait for; most often those OSDs are down."),
        (
            "ceph health detail",
            "ceph pg dump_stuck inactive",
            "ceph pg dump_stuck stale",
            "ceph pg <pgid> query",
            "ceph osd tree down",
        ),
        (
            Care(
                "ceph osd pool set <pool> min_size <n>",
                _("lets I/O through with fewer copies, risking data loss; set it back afterwards"),
            ),
            Care(
                "ceph osd force-create-pg <pgid>",
                _("throws the PG's data away: a last resort after every OSD was tried"),
            ),
        ),
        explained_by=(*_OSDS_GONE, "TOO_FEW_OSDS"),
    ),
    HealthCode(
        "PG_DEGRADED",
        (DATA,),
        Impact.REDUNDANCY,
        _(
            "Some data has fewer copies (or erasure-code shards) than its pool wants: PGs are "
            "degraded or undersized. I/O works, but one more failure may lose data."
        ),
        _(
            "Find which OSDs are down or out; recovery starts by itself when they return or are "
            "marked out."
        ),
        (
            "ceph health detail",
            "ceph osd tree down",
            "ceph pg dump_stuck undersized",
            "ceph pg dump_stuck degraded",
            "ceph -s",
        ),
        (
            Care(
                "ceph config set osd osd_max_backfills <n>",
                _("faster recovery at the cost of client latency"),
            ),
            Care("ceph osd unset norecover / nobackfill", _("starts recovery traffic at once")),
        ),
        explained_by=(
            *_OSDS_GONE,
            "TOO_FEW_OSDS",
            "OSDMAP_FLAGS",
            "PG_RECOVERY_FULL",
            "PG_BACKFILL_FULL",
        ),
    ),
    HealthCode(
        "PG_RECOVERY_FULL",
        (DATA,),
        Impact.REDUNDANCY,
        _(
            "Recovery is blocked because OSDs are above the full ratio (PGs recovery_toofull): "
            "redundancy stays reduced."
        ),
        _("See which OSDs are full and make room or add capacity."),
        ("ceph osd df tree", "ceph df", "ceph health detail"),
        (Care("ceph osd set-full-ratio <ratio>", _("short-term only; lower it back")),),
        explained_by=("OSD_FULL",),
        severity=ERR,
    ),
    HealthCode(
        "PG_BACKFILL_FULL",
        (DATA,),
        Impact.REDUNDANCY,
        _("Backfill is blocked because target OSDs are above backfillfull (PGs backfill_toofull)."),
        _("See which OSDs are too full to take data, and whether usage is uneven."),
        ("ceph osd df tree", "ceph df", "ceph health detail"),
        (Care("ceph osd set-backfillfull-ratio <ratio>", _("raise it a little only")),),
        explained_by=("OSD_BACKFILLFULL",),
    ),
    HealthCode(
        "PG_DAMAGED",
        (DATA,),
        Impact.REDUNDANCY,
        _(
            "Scrubbing found inconsistent data (PGs inconsistent or snaptrim_error), or a repair "
            "of it is running."
        ),
        _("List the inconsistent objects and check the disks of the OSDs involved before repair."),
        (
            "ceph health detail",
            "rados list-inconsistent-pg <pool>",
            "rados list-inconsistent-obj <pgid> --format=json-pretty",
        ),
        (_REPAIR_PG,),
        explained_by=("OSD_SCRUB_ERRORS", "OBJECT_UNFOUND"),
        severity=ERR,
    ),
    HealthCode(
        "OSD_SCRUB_ERRORS",
        (DATA,),
        Impact.REDUNDANCY,
        _("Recent scrubs found inconsistencies between copies of objects."),
        _("List the inconsistent PGs and objects, and check the disks of the OSDs involved."),
        (
            "ceph health detail",
            "rados list-inconsistent-pg <pool>",
            "rados list-inconsistent-obj <pgid> --format=json-pretty",
        ),
        (_REPAIR_PG,),
        severity=ERR,
    ),
    HealthCode(
        "OSD_TOO_MANY_REPAIRS",
        (DATA,),
        Impact.REDUNDANCY,
        _(
            "An OSD repaired more reads than mon_osd_warn_num_repaired (10): its disk may be "
            "failing even without scrub errors."
        ),
        _("Check the disk of the OSD named."),
        ("ceph health detail", "smartctl -a /dev/<device>", "ceph device ls-by-daemon osd.<id>"),
        (
            Care(
                "ceph tell osd.<id> clear_shards_repaired",
                _("resets the counter; only after the disk was checked"),
            ),
        ),
        explained_by=("DEVICE_HEALTH", "BLUESTORE_SPURIOUS_READ_ERRORS"),
    ),
    HealthCode(
        "LARGE_OMAP_OBJECTS",
        (DATA,),
        Impact.PERFORMANCE,
        _(
            "Deep scrub found objects with very many omap keys, often RGW bucket indexes that "
            "are not resharded."
        ),
        _("Search the cluster log for 'Large omap object found' to get the object and pool."),
        (
            "ceph health detail",
            "grep 'Large omap object found' /var/log/ceph/ceph.log",
            "radosgw-admin bucket limit check",
        ),
        (
            Care(
                "radosgw-admin bucket reshard --bucket <name> --num-shards <n>",
                _("writes to that bucket wait while it reshards"),
            ),
        ),
    ),
    HealthCode(
        "CACHE_POOL_NEAR_FULL",
        (DATA,),
        Impact.PERFORMANCE,
        _("A cache-tier pool is near its target size; writes may block while it flushes."),
        _("Compare the cache pool's usage with its targets."),
        ("ceph df detail", "ceph osd pool ls detail"),
        (
            Care(
                "ceph osd pool set <cache-pool> target_max_bytes|target_max_objects <value>",
                _("changes when the cache flushes and evicts"),
            ),
        ),
    ),
    HealthCode(
        "TOO_FEW_PGS",
        (DATA,),
        Impact.CONFIG,
        _("There are fewer PGs per OSD than mon_pg_warn_min_per_osd: data spreads unevenly."),
        _("See what the autoscaler suggests for each pool."),
        ("ceph osd pool autoscale-status", "ceph osd df"),
        (_PG_NUM,),
    ),
    HealthCode(
        "POOL_PG_NUM_NOT_POWER_OF_TWO",
        (DATA,),
        Impact.CONFIG,
        _("A pool's pg_num is not a power of two: some PGs hold about twice the data of others."),
        _("Read the pools' pg_num."),
        ("ceph osd pool ls detail",),
        (Care("ceph osd pool set <pool> pg_num <power of two>", _("moves data")),),
    ),
    HealthCode(
        "POOL_TOO_FEW_PGS",
        (DATA,),
        Impact.CONFIG,
        _("The autoscaler, in warn mode, suggests more PGs for a pool given the data it holds."),
        _("See the autoscaler's suggestion."),
        ("ceph osd pool autoscale-status",),
        (_AUTOSCALE, _PG_NUM),
    ),
    HealthCode(
        "TOO_MANY_PGS",
        (DATA,),
        Impact.CONFIG,
        _(
            "There are more PGs per OSD than mon_max_pg_per_osd: new pools and pg_num increases "
            "are refused, OSD memory and peering time grow."
        ),
        _("See whether OSDs are out, and what the autoscaler suggests."),
        ("ceph osd tree", "ceph osd pool autoscale-status", "ceph osd df"),
        (Care("ceph osd in <ids>", _("brings out OSDs back, which moves data onto them")),),
    ),
    HealthCode(
        "POOL_TOO_MANY_PGS",
        (DATA,),
        Impact.CONFIG,
        _("The autoscaler, in warn mode, suggests fewer PGs for a pool given the data it holds."),
        _("See the autoscaler's suggestion."),
        ("ceph osd pool autoscale-status",),
        (_AUTOSCALE, _PG_NUM),
    ),
    HealthCode(
        "POOL_TARGET_SIZE_BYTES_OVERCOMMITTED",
        (DATA,),
        Impact.CONFIG,
        _("Pools' target_size_bytes add up to more than the storage there is."),
        _("Compare the pools' target sizes with the raw capacity."),
        ("ceph osd pool autoscale-status", "ceph df"),
        (
            Care(
                "ceph osd pool set <pool> target_size_bytes 0",
                _("changes the autoscaler's plan for that pool"),
            ),
        ),
    ),
    HealthCode(
        "POOL_HAS_TARGET_SIZE_BYTES_AND_RATIO",
        (DATA,),
        Impact.CONFIG,
        _("A pool sets both target_size_bytes and target_size_ratio; the ratio wins."),
        _("Read the pool's settings."),
        ("ceph osd pool ls detail",),
        (
            Care(
                "ceph osd pool set <pool> target_size_bytes 0",
                _("changes the autoscaler's plan for that pool"),
            ),
        ),
    ),
    HealthCode(
        "TOO_FEW_OSDS",
        (DATA,),
        Impact.REDUNDANCY,
        _(
            "There are fewer OSDs than osd_pool_default_size: pools of the default size cannot "
            "place all their copies."
        ),
        _("Count the OSDs and the pools' sizes."),
        ("ceph osd stat", "ceph osd pool ls detail"),
        (Care("ceph osd pool set <pool> size <n>", _("fewer copies of the data")),),
    ),
    HealthCode(
        "SMALLER_PGP_NUM",
        (DATA,),
        Impact.CONFIG,
        _("A pool's pgp_num is below its pg_num: PGs were split but not yet placed apart."),
        _("Read the pool's pg_num and pgp_num."),
        ("ceph osd pool ls detail",),
        (Care("ceph osd pool set <pool> pgp_num <pg_num>", _("starts the data migration")),),
    ),
    HealthCode(
        "MANY_OBJECTS_PER_PG",
        (DATA,),
        Impact.CONFIG,
        _("A pool has far more objects per PG than the cluster average: it has too few PGs."),
        _("See the autoscaler's suggestion for that pool."),
        ("ceph osd pool autoscale-status", "ceph df"),
        (_PG_NUM,),
        explained_by=("TOO_FEW_PGS", "POOL_TOO_FEW_PGS"),
    ),
    HealthCode(
        "POOL_APP_NOT_ENABLED",
        (DATA,),
        Impact.CONFIG,
        _(
            "A pool holds objects but is not tagged with the application using it (rbd, cephfs, rgw)."
        ),
        _("Find out which application uses the pool."),
        ("ceph osd pool ls detail", "ceph osd pool application get <pool>"),
        (
            Care(
                "ceph osd pool application enable <pool> <app>",
                _("tag it with the application that really uses it"),
            ),
        ),
    ),
    HealthCode(
        "POOL_NEAR_FULL",
        (DATA,),
        Impact.CAPACITY,
        _("Pools are close to their quota, or their OSDs are nearly full."),
        _("See each pool's quota and usage."),
        ("ceph df detail", "ceph osd pool get-quota <pool>"),
        (_QUOTA,),
        explained_by=("OSD_NEARFULL",),
    ),
    HealthCode(
        "OBJECT_MISPLACED",
        (DATA,),
        Impact.CONFIG,
        _(
            "Objects are not yet where CRUSH wants them: data is moving after a change. Not "
            "dangerous in itself; old copies stay until the new ones exist."
        ),
        _("Watch the figure go down, and find what changed: OSDs in or out, weights, pg_num."),
        ("ceph -s", "ceph progress", "ceph osd pool autoscale-status"),
        (Care("ceph osd set norebalance", _("pauses the movement; unset it afterwards")),),
        explained_by=(*_OSDS_GONE, "DEVICE_HEALTH", "DEVICE_HEALTH_IN_USE"),
    ),
    HealthCode(
        "OBJECT_UNFOUND",
        (DATA,),
        Impact.AVAILABILITY,
        _(
            "The newest copy of some objects is on no OSD that is up: reads and writes of those "
            "objects block."
        ),
        _(
            "Bring back the down OSDs that may hold the copy; query the PG to see which OSDs it "
            "still wants to probe."
        ),
        (
            "ceph health detail",
            "ceph pg <pgid> list_unfound",
            "ceph pg <pgid> query",
            "ceph osd tree down",
        ),
        (
            Care(
                "ceph pg <pgid> mark_unfound_lost revert|delete",
                _("loses the newest writes of those objects: only after every down OSD was tried"),
            ),
        ),
        explained_by=_OSDS_GONE,
    ),
    HealthCode(
        "SLOW_OPS",
        (DATA,),
        Impact.PERFORMANCE,
        _(
            "Requests on OSDs or monitors have been waiting a long time (over 30 s by default): "
            "overload, a slow or failing disk, or network trouble."
        ),
        _("Find the daemons with slow ops and read their in-flight and recent slow operations."),
        (
            "ceph health detail",
            "ceph daemon osd.<id> dump_ops_in_flight",
            "ceph daemon osd.<id> dump_historic_ops",
            "ceph osd perf",
        ),
        (
            Care(
                "systemctl restart ceph-osd@<id>",
                _("its PGs go through peering again; check its disk and network first"),
            ),
        ),
        explained_by=(
            *_OSDS_GONE,
            "PG_AVAILABILITY",
            "DEVICE_HEALTH",
            "BLUESTORE_SPURIOUS_READ_ERRORS",
            "BLUEFS_SPILLOVER",
            "PG_SLOW_SNAP_TRIMMING",
        ),
    ),
    HealthCode(
        "PG_NOT_SCRUBBED",
        (DATA,),
        Impact.CONFIG,
        _(
            "PGs were not scrubbed in time. Only clean PGs are scrubbed, so degraded or misplaced "
            "data and the noscrub flag delay it."
        ),
        _("Check for unclean PGs and scrub flags before scrubbing by hand."),
        ("ceph health detail", "ceph osd dump | grep flags", "ceph pg stat"),
        (Care("ceph pg scrub <pgid>", _("adds load on the OSDs of that PG")),),
        explained_by=(
            *_OSDS_GONE,
            "PG_DEGRADED",
            "PG_AVAILABILITY",
            "OBJECT_MISPLACED",
            "OSDMAP_FLAGS",
        ),
    ),
    HealthCode(
        "PG_NOT_DEEP_SCRUBBED",
        (DATA,),
        Impact.CONFIG,
        _(
            "PGs were not deep-scrubbed in time. Only clean PGs are deep-scrubbed, so degraded or "
            "misplaced data and the nodeep-scrub flag delay it."
        ),
        _("Check for unclean PGs and scrub flags before scrubbing by hand."),
        ("ceph health detail", "ceph osd dump | grep flags", "ceph pg stat"),
        (Care("ceph pg deep-scrub <pgid>", _("reads every byte of that PG: heavy disk load")),),
        explained_by=(
            *_OSDS_GONE,
            "PG_DEGRADED",
            "PG_AVAILABILITY",
            "OBJECT_MISPLACED",
            "OSDMAP_FLAGS",
        ),
    ),
    HealthCode(
        "PG_SLOW_SNAP_TRIMMING",
        (DATA,),
        Impact.PERFORMANCE,
        _(
            "Snapshot trim queues of some PGs are longer than 32768: many snapshots were deleted, "
            "or the OSDs cannot keep up."
        ),
        _("Read the PGs' snaptrimq_len and the OSDs' latency."),
        ("ceph pg ls -f json-detail", "ceph osd perf"),
        (
            Care(
                "ceph config set osd osd_snap_trim_sleep <seconds>",
                _("a shorter sleep trims faster and slows clients"),
            ),
        ),
    ),
)
