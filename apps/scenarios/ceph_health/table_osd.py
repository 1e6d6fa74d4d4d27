"""Health codes of the reference's OSDs section (BlueStore and BlueFS included)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from apps.scenarios.ceph_health.codes import DATA, OSDS, SUBTREE_DOWN, Care, HealthCode, Impact

ERR = "HEALTH_ERR"
_HIDES = _("only hides the warning; the cause stays")
_REPAIR = Care(
    "ceph osd set noout; systemctl stop ceph-osd@<id>; "
    "ceph-bluestore-tool repair --path /var/lib/ceph/osd/ceph-<id>; systemctl start ceph-osd@<id>",
    _("stops the OSD for the repair: one OSD at a time, and unset noout afterwards"),
)

CODES: tuple[HealthCode, ...] = (
    # --- OSDs ------------------------------------------------------------------------------
    HealthCode(
        "OSD_DOWN",
        (OSDS,),
        Impact.REDUNDANCY,
        _(
            "OSDs are marked down: their daemon stopped or crashed, their host is down, or their "
            "peers cannot reach them. Their PGs run with fewer copies until they return or are "
            "marked out."
        ),
        _("Find which OSDs and hosts are down, then check each daemon, its log and the network."),
        (
            "ceph osd tree down",
            "ceph health detail",
            "ceph osd find osd.<id>",
            "ceph crash ls-new",
            "journalctl -u ceph-osd@<id> --since -1h",
        ),
        (
            Care(
                "systemctl restart ceph-osd@<id>",
                _("after reading its log: a crash caused by a failing disk repeats"),
            ),
            Care("ceph osd out osd.<id>", _("starts moving its data to other OSDs")),
            Care(
                "ceph osd set noout", _("stops automatic recovery; unset it after the maintenance")
            ),
        ),
        explained_by=(SUBTREE_DOWN, "RECENT_CRASH", "DEVICE_HEALTH", "OSDMAP_FLAGS", "OSD_FLAGS"),
    ),
    HealthCode(
        SUBTREE_DOWN,
        (OSDS,),
        Impact.REDUNDANCY,
        _(
            "Every OSD under one CRUSH bucket (a host, a rack…) is down: usually the host or its "
            "network failed, not the OSDs one by one."
        ),
        _("Check the host itself first: power, network links, then its OSD daemons."),
        ("ceph osd tree down", "ceph health detail", "ceph orch host ls", "ping <host>"),
        (
            Care(
                "ceph osd set noout",
                _("keeps data from rebalancing while the host is repaired; unset it afterwards"),
            ),
            Care("ceph osd out <ids>", _("starts re-creating the whole host's data elsewhere")),
        ),
    ),
    HealthCode(
        "OSD_ORPHAN",
        (OSDS,),
        Impact.CONFIG,
        _(
            "An OSD is in the CRUSH map but not in the OSD map, left over from an unfinished removal."
        ),
        _("Confirm the OSD id really no longer exists."),
        ("ceph osd tree", "ceph osd ls"),
        (Care("ceph osd crush rm osd.<id>", _("removes it from CRUSH; check the id twice")),),
    ),
    HealthCode(
        "OSD_OUT_OF_ORDER_FULL",
        (OSDS,),
        Impact.CONFIG,
        _("The nearfull, backfillfull, full and failsafe-full ratios are not in ascending order."),
        _("Read the current ratios."),
        ("ceph osd dump | grep ratio",),
        (
            Care(
                "ceph osd set-nearfull-ratio|set-backfillfull-ratio|set-full-ratio <ratio>",
                _("decides when writes stop; keep nearfull < backfillfull < full"),
            ),
        ),
        severity=ERR,
    ),
    HealthCode(
        "OSD_FULL",
        (OSDS,),
        Impact.AVAILABILITY,
        _("OSDs passed the full ratio: the cluster stops serving writes."),
        _("See which OSDs and pools hold the space; add capacity or delete data."),
        ("ceph df", "ceph osd df tree", "ceph osd dump | grep full_ratio", "ceph health detail"),
        (
            Care(
                "ceph osd set-full-ratio <ratio>",
                _("lets writes through for a while: raise it a little, and lower it back"),
            ),
            Care(
                "deleting data",
                _("deletes need a little space too; remove whole images, objects or snapshots"),
            ),
        ),
        severity=ERR,
    ),
    HealthCode(
        "OSD_BACKFILLFULL",
        (OSDS,),
        Impact.CAPACITY,
        _(
            "OSDs passed the backfillfull ratio (or would after the current backfills): data can "
            "no longer move onto them, so rebalancing may not finish."
        ),
        _("See which OSDs are fullest and whether usage is uneven."),
        ("ceph osd df tree", "ceph df"),
        (
            Care("ceph osd set-backfillfull-ratio <ratio>", _("raise it a little only")),
            Care(
                "ceph osd reweight-by-utilization",
                _("moves data; preview with ceph osd test-reweight-by-utilization"),
            ),
        ),
    ),
    HealthCode(
        "OSD_NEARFULL",
        (OSDS,),
        Impact.CAPACITY,
        _("OSDs passed the nearfull ratio: an early warning that the cluster is filling up."),
        _("See which OSDs are fullest, whether usage is uneven, and how fast it grows."),
        ("ceph osd df tree", "ceph df"),
        (
            Care(
                "ceph osd reweight-by-utilization",
                _("moves data; preview with ceph osd test-reweight-by-utilization"),
            ),
            Care("ceph balancer on", _("starts moving data to even out usage")),
        ),
    ),
    HealthCode(
        "OSDMAP_FLAGS",
        (OSDS,),
        Impact.CONFIG,
        _(
            "Cluster-wide flags are set (noout, norebalance, nobackfill, norecover, noscrub, "
            "pause…), usually left over from maintenance. pauserd, pausewr and full stop client I/O."
        ),
        _("Find who set the flags and whether that maintenance is over."),
        ("ceph osd dump | grep flags", "ceph health detail"),
        (
            Care(
                "ceph osd unset <flag>",
                _(
                    "unset noout only when every OSD is back up; unsetting norecover or "
                    "nobackfill starts data movement"
                ),
            ),
        ),
    ),
    HealthCode(
        "OSD_FLAGS",
        (OSDS,),
        Impact.CONFIG,
        _("Flags (noup, nodown, noin, noout) are set on single OSDs, hosts or device classes."),
        _("See which OSDs or buckets carry which flags, and why they were set."),
        ("ceph osd dump", "ceph health detail"),
        (
            Care(
                "ceph osd unset-group <flags> <who>",
                _("the same effects as the cluster-wide flags"),
            ),
        ),
    ),
    HealthCode(
        "OLD_CRUSH_TUNABLES",
        (OSDS,),
        Impact.CONFIG,
        _("The CRUSH map uses very old tunables."),
        _("Check which clients must still connect before changing them."),
        ("ceph osd crush show-tunables", "ceph features"),
        (
            Care(
                "ceph osd crush tunables optimal",
                _("moves a large part of the data; old clients may no longer connect"),
            ),
        ),
    ),
    HealthCode(
        "OLD_CRUSH_STRAW_CALC_VERSION",
        (OSDS,),
        Impact.CONFIG,
        _("straw buckets use the old weight calculation (straw_calc_version=0)."),
        _("Read the current tunables."),
        ("ceph osd crush show-tunables",),
        (Care("ceph osd crush set-tunable straw_calc_version 1", _("may move some data")),),
    ),
    HealthCode(
        "CACHE_POOL_NO_HIT_SET",
        (OSDS,),
        Impact.CONFIG,
        _(
            "Cache-tier pools have no hit set, so the tiering agent cannot find cold objects to "
            "flush and evict."
        ),
        _("Check the cache pools' settings."),
        ("ceph osd pool ls detail",),
        (
            Care(
                "ceph osd pool set <pool> hit_set_type bloom (and hit_set_period, hit_set_count)",
                _("changes how the cache flushes and evicts"),
            ),
        ),
    ),
    HealthCode(
        "OSD_NO_SORTBITWISE",
        (OSDS,),
        Impact.CONFIG,
        _("The sortbitwise flag is not set, although OSDs of Luminous or later need it to start."),
        _("Check that no pre-Luminous OSD is still running."),
        ("ceph versions", "ceph osd dump | grep flags"),
        (Care("ceph osd set sortbitwise", _("only when no pre-Luminous OSD runs")),),
    ),
    HealthCode(
        "OSD_FILESTORE",
        (OSDS,),
        Impact.CONFIG,
        _(
            "OSDs still run the deprecated Filestore back end; they must move to BlueStore before "
            "an upgrade to Reef or later."
        ),
        _("List the Filestore OSDs and plan their redeployment."),
        (
            "ceph osd count-metadata osd_objectstore",
            "ceph osd metadata <id> | grep osd_objectstore",
        ),
        (
            Care(
                "redeploying an OSD as BlueStore",
                _("one OSD or failure domain at a time, waiting for the cluster to be healthy"),
            ),
            Care("ceph health mute OSD_FILESTORE", _HIDES),
        ),
    ),
    HealthCode(
        "POOL_FULL",
        (OSDS, DATA),
        Impact.AVAILABILITY,
        _("Pools reached (or nearly reached) their quota: writes to them stop."),
        _("See each pool's quota and usage, and who writes to it."),
        ("ceph df detail", "ceph osd pool get-quota <pool>"),
        (
            Care(
                "ceph osd pool set-quota <pool> max_bytes|max_objects <value>",
                _("a larger or no quota lets the pool grow into space other pools need"),
            ),
        ),
        explained_by=("OSD_FULL",),
        severity=ERR,
    ),
    HealthCode(
        "BLUEFS_SPILLOVER",
        (OSDS,),
        Impact.PERFORMANCE,
        _(
            "BlueStore metadata (RocksDB) no longer fits on the fast DB device and spilled onto "
            "the slow device: slower I/O, no data at risk."
        ),
        _("See how much spilled over on which OSDs, and how big their DB devices are."),
        ("ceph health detail", "ceph tell osd.<id> bluefs stats"),
        (
            Care("ceph tell osd.<id> compact", _("heavy I/O on that OSD while it runs")),
            Care(
                "ceph-bluestore-tool bluefs-bdev-expand --path /var/lib/ceph/osd/ceph-<id>",
                _("only with the OSD stopped, after the DB volume was extended"),
            ),
            Care("ceph config set osd bluestore_warn_on_bluefs_spillover false", _HIDES),
        ),
    ),
    HealthCode(
        "BLUEFS_AVAILABLE_SPACE",
        (OSDS,),
        Impact.CAPACITY,
        _("BlueFS has little space left, counting what BlueStore could still give it."),
        _("Read how much space BlueFS has and can still get on those OSDs."),
        ("ceph daemon osd.<id> bluestore bluefs available", "ceph osd df tree"),
    ),
    HealthCode(
        "BLUEFS_LOW_SPACE",
        (OSDS,),
        Impact.CAPACITY,
        _("BlueFS is low on free space and BlueStore can give it little more."),
        _("Read the available space, and what a smaller allocation unit would give."),
        (
            "ceph daemon osd.<id> bluestore bluefs available",
            "ceph daemon osd.<id> bluestore bluefs available <alloc-unit-size>",
        ),
        (
            Care(
                "a smaller BlueFS allocation unit (bluefs_shared_alloc_size)",
                _("changes the OSD's on-disk layout; try one OSD first"),
            ),
        ),
        explained_by=("BLUESTORE_FRAGMENTATION",),
    ),
    HealthCode(
        "BLUESTORE_FRAGMENTATION",
        (OSDS,),
        Impact.PERFORMANCE,
        _(
            "Free space on an OSD's device is badly fragmented (score near 1), which slows "
            "allocation and can starve BlueFS."
        ),
        _("Read the fragmentation score of the OSDs named."),
        (
            "ceph daemon osd.<id> bluestore allocator score block",
            "ceph daemon osd.<id> bluestore allocator dump block",
        ),
        (Care("redeploying the OSD", _("the only full cure; one OSD at a time")),),
    ),
    HealthCode(
        "BLUESTORE_LEGACY_STATFS",
        (OSDS,),
        Impact.CONFIG,
        _(
            "OSDs created before Nautilus keep usage statistics the old way; with a mix of old "
            "and new OSDs, ceph df is inaccurate."
        ),
        _("List the OSDs named in the detail."),
        ("ceph health detail", "ceph df"),
        (_REPAIR,),
    ),
    HealthCode(
        "BLUESTORE_NO_PER_POOL_OMAP",
        (OSDS,),
        Impact.CONFIG,
        _(
            "OSDs created before Octopus do not track omap usage per pool; per-pool omap figures "
            "are estimates."
        ),
        _("List the OSDs named in the detail."),
        ("ceph health detail",),
        (_REPAIR,),
    ),
    HealthCode(
        "BLUESTORE_NO_PER_PG_OMAP",
        (OSDS,),
        Impact.CONFIG,
        _("OSDs created before Pacific do not track omap usage per PG; PG removal is slower."),
        _("List the OSDs named in the detail."),
        ("ceph health detail",),
        (_REPAIR,),
    ),
    HealthCode(
        "BLUESTORE_DISK_SIZE_MISMATCH",
        (OSDS,),
        Impact.REDUNDANCY,
        _("The OSD's device size and BlueStore's metadata disagree: the OSD may crash later."),
        _("Plan to redeploy those OSDs one at a time."),
        ("ceph health detail", "ceph osd safe-to-destroy osd.<id>"),
        (
            Care(
                "ceph osd out osd.<id>; ceph osd destroy osd.<id>; ceph-volume lvm zap/create",
                _("one OSD at a time, only after safe-to-destroy says yes and recovery finished"),
            ),
        ),
    ),
    HealthCode(
        "BLUESTORE_NO_COMPRESSION",
        (OSDS,),
        Impact.CONFIG,
        _(
            "OSDs cannot load a compression plugin: a broken installation, or an OSD not "
            "restarted after an upgrade."
        ),
        _("Check that the Ceph packages on those hosts match and the OSDs were restarted."),
        ("ceph versions", "ceph osd metadata <id>"),
        (Care("systemctl restart ceph-osd@<id>", _("one OSD at a time, once the packages match")),),
    ),
    HealthCode(
        "BLUESTORE_SPURIOUS_READ_ERRORS",
        (OSDS,),
        Impact.PERFORMANCE,
        _(
            "OSDs had reads that failed and then succeeded on retry: an early sign of disk, "
            "controller or kernel trouble."
        ),
        _("Check the disks and kernel logs of the OSDs named."),
        ("ceph health detail", "smartctl -a /dev/<device>", "dmesg -T | grep -i error"),
        (Care("ceph config set osd bluestore_warn_on_spurious_read_errors false", _HIDES),),
    ),
)
