"""Health codes of the reference's Monitor, Manager, Device health, Stretch Mode and
Miscellaneous sections."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from apps.scenarios.ceph_health.codes import (
    DEVICES,
    MANAGER,
    MISC,
    MONITOR,
    STRETCH,
    Care,
    HealthCode,
    Impact,
)

ERR = "HEALTH_ERR"
_HIDES = _("only hides the warning; the cause stays")
_CRASH_ARCHIVE = Care("ceph crash archive-all", _("clears the warning; read the crashes first"))

CODES: tuple[HealthCode, ...] = (
    # --- Monitor ---------------------------------------------------------------------------
    HealthCode(
        "DAEMON_OLD_VERSION",
        (MONITOR,),
        Impact.CONFIG,
        _(
            "Daemons have run more than one Ceph version for over a week: an upgrade was left half done."
        ),
        _("See which daemons run which version, then finish the upgrade."),
        ("ceph versions", "ceph orch upgrade status"),
        (Care("ceph health mute DAEMON_OLD_VERSION --sticky", _HIDES),),
    ),
    HealthCode(
        "MON_DOWN",
        (MONITOR,),
        Impact.CONTROL,
        _(
            "Monitors are out of quorum. The cluster needs a majority of its monitors: one more "
            "failure may stop it."
        ),
        _("Check the down monitor's host, its daemon log and the network between the monitors."),
        ("ceph mon stat", "ceph quorum_status -f json-pretty", "ceph health detail"),
        (
            Care(
                "ceph orch daemon restart mon.<id>",
                _("one monitor at a time, after its host, disk and clock were checked"),
            ),
            Care(
                "ceph mon remove <id>",
                _("shrinks the monitor map; never while another monitor is down"),
            ),
        ),
        explained_by=("MON_DISK_CRIT", "MON_CLOCK_SKEW", "RECENT_CRASH"),
    ),
    HealthCode(
        "MON_CLOCK_SKEW",
        (MONITOR,),
        Impact.CONTROL,
        _(
            "Monitor clocks differ by more than mon_clock_drift_allowed; monitors may drop out of "
            "quorum when their leases expire."
        ),
        _("Check time synchronisation (chrony or ntpd) on every monitor host."),
        ("ceph time-sync-status", "chronyc tracking", "chronyc sources -v"),
        (
            Care(
                "ceph config set mon mon_clock_drift_allowed <seconds>",
                _("hides the skew; the value must stay well below mon_lease"),
            ),
        ),
    ),
    HealthCode(
        "MON_MSGR2_NOT_ENABLED",
        (MONITOR,),
        Impact.CONFIG,
        _(
            "Some monitors do not listen on the msgr2 port (3300), so msgr2 features such as "
            "encryption are off for their connections."
        ),
        _("Compare the addresses in the monitor map with the ports the monitors listen on."),
        ("ceph mon dump",),
        (
            Care(
                "ceph mon enable-msgr2",
                _(
                    "changes the monitor map; monitors on a non-standard v1 port need a manual edit instead"
                ),
            ),
        ),
    ),
    HealthCode(
        "MON_DISK_LOW",
        (MONITOR,),
        Impact.CAPACITY,
        _(
            "Free space on the file system of a monitor's database (/var/lib/ceph/mon) is below 30%."
        ),
        _("Find what fills that file system: the monitor's own database, logs or other files."),
        ("df -h /var/lib/ceph/mon", "du -sh /var/lib/ceph/mon/*", "ceph health detail"),
        (
            Care(
                "moving the monitor's data directory to a larger file system",
                _("only with that monitor stopped, one monitor at a time"),
            ),
        ),
        explained_by=("MON_DISK_BIG",),
    ),
    HealthCode(
        "MON_DISK_CRIT",
        (MONITOR,),
        Impact.CAPACITY,
        _(
            "Free space on the file system of a monitor's database is below 5%; a monitor whose "
            "disk fills up shuts itself down."
        ),
        _("Free space on that file system now, starting with files that are not the monitor's."),
        ("df -h /var/lib/ceph/mon", "du -sh /var/lib/ceph/mon/*", "ceph health detail"),
        (
            Care(
                "deleting files under /var/lib/ceph/mon",
                _("never touch the monitor's store.db: it is the cluster map"),
            ),
        ),
        explained_by=("MON_DISK_BIG",),
        severity=ERR,
    ),
    HealthCode(
        "MON_DISK_BIG",
        (MONITOR,),
        Impact.CAPACITY,
        _(
            "A monitor's database is larger than 15 GiB. It grows while placement groups stay "
            "unclean for a long time, or when compaction lags behind."
        ),
        _(
            "Check whether PGs have been unclean for long: the database shrinks once they are clean."
        ),
        ("ceph pg stat", "du -sh /var/lib/ceph/mon/*/store.db", "ceph health detail"),
        (
            Care(
                "ceph tell mon.<id> compact",
                _("a burst of disk I/O on that monitor; one monitor at a time"),
            ),
            Care("ceph config set global mon_data_size_warn <size>", _HIDES),
        ),
        explained_by=("PG_DEGRADED", "PG_AVAILABILITY", "OBJECT_MISPLACED"),
    ),
    HealthCode(
        "AUTH_INSECURE_GLOBAL_ID_RECLAIM",
        (MONITOR,),
        Impact.CONFIG,
        _(
            "Clients reconnect with the insecure global_id reclaim of unpatched Ceph client code "
            "(CVE-2021-20288); they are let in only because the monitors still allow it."
        ),
        _("List the monitor sessions, find the clients marked reclaim_insecure and upgrade them."),
        ("ceph health detail", "ceph tell mon.\\* sessions"),
        (
            Care(
                "ceph config set mon auth_allow_insecure_global_id_reclaim false",
                _("locks out every client that is not upgraded yet"),
            ),
            Care("ceph health mute AUTH_INSECURE_GLOBAL_ID_RECLAIM 1w", _HIDES),
        ),
    ),
    HealthCode(
        "AUTH_INSECURE_GLOBAL_ID_RECLAIM_ALLOWED",
        (MONITOR,),
        Impact.CONFIG,
        _("The monitors still allow clients to reclaim their global_id the insecure way."),
        _(
            "Check that no session is marked reclaim_insecure; then the insecure reclaim can be "
            "switched off."
        ),
        ("ceph tell mon.\\* sessions", "ceph config get mon auth_allow_insecure_global_id_reclaim"),
        (
            Care(
                "ceph config set mon auth_allow_insecure_global_id_reclaim false",
                _("unpatched clients can no longer reconnect"),
            ),
        ),
        explained_by=("AUTH_INSECURE_GLOBAL_ID_RECLAIM",),
    ),
    # --- Manager ---------------------------------------------------------------------------
    HealthCode(
        "MGR_DOWN",
        (MANAGER,),
        Impact.CONTROL,
        _(
            "No manager daemon is running: the dashboard, Prometheus metrics and many status "
            "commands stop or hang. Client I/O and recovery go on."
        ),
        _("Check the manager daemons' hosts and logs."),
        ("ceph mgr stat", "ceph mgr dump", "systemctl list-units 'ceph*mgr*'"),
        (
            Care(
                "systemctl restart <the manager's unit>",
                _("read its log first: a failing module brings it down again"),
            ),
        ),
        explained_by=("RECENT_CRASH",),
    ),
    HealthCode(
        "MGR_MODULE_DEPENDENCY",
        (MANAGER,),
        Impact.CONTROL,
        _("An enabled manager module fails its dependency check, for example a missing package."),
        _("Read the module's message in the health detail and install what it needs."),
        ("ceph health detail", "ceph mgr module ls"),
        (Care("ceph mgr fail", _("fails over to a standby manager; metrics and dashboard blink")),),
    ),
    HealthCode(
        "MGR_MODULE_ERROR",
        (MANAGER,),
        Impact.CONTROL,
        _("A manager module stopped on an unhandled error."),
        _("Read the error and the module's recent crashes."),
        ("ceph health detail", "ceph crash ls-new", "ceph mgr module ls"),
        (
            Care(
                "ceph mgr fail",
                _("fails over to a standby manager; for an error that looks transient"),
            ),
            Care("ceph mgr module disable <module>", _("switches that feature off")),
        ),
        explained_by=("RECENT_MGR_MODULE_CRASH",),
        severity=ERR,
    ),
    # --- Device health ---------------------------------------------------------------------
    HealthCode(
        "DEVICE_HEALTH",
        (DEVICES,),
        Impact.REDUNDANCY,
        _("Devices are predicted to fail soon."),
        _("Plan to move data off: mark the OSD out, let recovery finish, then replace the device."),
        ("ceph device ls", "ceph device info <devid>", "ceph device get-health-metrics <devid>"),
        (Care("ceph osd out osd.<id>", _("starts moving its data; check free space first")),),
    ),
    HealthCode(
        "DEVICE_HEALTH_IN_USE",
        (DEVICES,),
        Impact.REDUNDANCY,
        _(
            "Devices predicted to fail were marked out but still hold PGs: data is still moving "
            "off them, or cannot move (a nearly full cluster, no other CRUSH target)."
        ),
        _("See which PGs are still on those OSDs and whether the cluster has room for them."),
        ("ceph device ls", "ceph pg ls-by-osd osd.<id>", "ceph osd df tree"),
        (
            Care(
                "ceph config set mgr mgr/devicehealth/mark_out_threshold <seconds>",
                _("changes when failing devices are marked out automatically"),
            ),
        ),
        explained_by=("OSD_NEARFULL", "OSD_BACKFILLFULL", "OSD_FULL"),
    ),
    HealthCode(
        "DEVICE_HEALTH_TOOMANY",
        (DEVICES,),
        Impact.REDUNDANCY,
        _(
            "Too many devices are predicted to fail to mark them all out without going below "
            "mon_osd_min_in_ratio."
        ),
        _("Add OSDs, or replace the failing devices one by one."),
        ("ceph device ls", "ceph osd df tree"),
        (Care("lowering mon_osd_min_in_ratio", _("raises the risk of losing data")),),
    ),
    # --- Stretch Mode ----------------------------------------------------------------------
    HealthCode(
        "INCORRECT_NUM_BUCKETS_STRETCH_MODE",
        (STRETCH,),
        Impact.CONTROL,
        _(
            "Stretch mode needs exactly two dividing buckets with OSDs, and there are not two: "
            "expect failures and monitor assertions."
        ),
        _("Count the dividing buckets in the CRUSH tree."),
        ("ceph osd tree", "ceph mon dump"),
        (Care("adding or removing CRUSH buckets", _("moves data")),),
    ),
    HealthCode(
        "UNEVEN_WEIGHTS_STRETCH_MODE",
        (STRETCH,),
        Impact.CONTROL,
        _("The two stretch-mode buckets have different weights."),
        _("Compare the total OSD weight under each bucket."),
        ("ceph osd tree",),
        (Care("ceph osd crush reweight osd.<id> <weight>", _("moves data")),),
    ),
    # --- Miscellaneous ---------------------------------------------------------------------
    HealthCode(
        "RECENT_CRASH",
        (MISC,),
        Impact.CONTROL,
        _(
            "Daemons crashed recently and nobody archived the crashes yet. A repeated OSD crash "
            "often means a failing disk."
        ),
        _("Read each crash: which daemon, when, and the backtrace."),
        ("ceph crash ls-new", "ceph crash info <crash-id>"),
        (_CRASH_ARCHIVE,),
    ),
    HealthCode(
        "RECENT_MGR_MODULE_CRASH",
        (MISC,),
        Impact.CONTROL,
        _("Manager modules crashed recently; the module may be disabled, the others keep running."),
        _("Read each crash: which module, when, and the backtrace."),
        ("ceph crash ls-new", "ceph crash info <crash-id>", "ceph mgr module ls"),
        (_CRASH_ARCHIVE,),
    ),
    HealthCode(
        "TELEMETRY_CHANGED",
        (MISC,),
        Impact.CONFIG,
        _(
            "The content of the telemetry report changed, so reports stop until telemetry is re-enabled."
        ),
        _("Review what the new report contains."),
        ("ceph telemetry show",),
        (
            Care("ceph telemetry on", _("agrees to send the new content")),
            Care("ceph telemetry off", _("stops telemetry")),
        ),
    ),
    HealthCode(
        "AUTH_BAD_CAPS",
        (MISC,),
        Impact.CONFIG,
        _("Auth users have capabilities the monitors cannot parse, typically after an upgrade."),
        _("Read the capabilities of the users named."),
        ("ceph health detail", "ceph auth get <entity>"),
        (
            Care("ceph auth caps <entity> <daemon-type> <caps> …", _("replaces all of its caps")),
            Care("ceph auth rm <entity>", _("clients using it can no longer authenticate")),
        ),
        severity=ERR,
    ),
    HealthCode(
        "OSD_NO_DOWN_OUT_INTERVAL",
        (MISC,),
        Impact.CONFIG,
        _(
            "mon_osd_down_out_interval is 0: down OSDs are never marked out automatically, so "
            "recovery never starts by itself."
        ),
        _("Check whether this was set on purpose (an external orchestrator) or left over."),
        ("ceph config get mon mon_osd_down_out_interval",),
        (
            Care(
                "ceph config set mon mon_osd_down_out_interval 600",
                _("from then on data moves 10 minutes after an OSD goes down"),
            ),
        ),
    ),
    HealthCode(
        "DASHBOARD_DEBUG",
        (MISC,),
        Impact.CONFIG,
        _("Dashboard debug mode is on: API errors return Python tracebacks that may leak details."),
        _("Switch debug mode off unless someone is debugging the dashboard right now."),
        ("ceph dashboard debug status", "ceph dashboard debug disable"),
    ),
)
