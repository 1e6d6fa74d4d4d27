"""Onboarding tracks: read from track files when their source syncs, links checked, shown to
the newcomers of their groups, progress per step, a lead's view, the command line."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.test import Client
from django.utils import translation

from apps.scenarios.engine.base import InputError
from apps.scenarios.onboarding import access, tracks
from apps.scenarios.onboarding.models import Track, TrackFileProblem, TrackProgress
from apps.scenarios.tests.onboarding_fixtures import BAD_TRACK, DBA_TRACK, TeamKB

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    """Messages are read in English here (the portal's default language is Russian)."""
    with translation.override("en"):
        yield


def _user(name: str, *groups: str) -> User:
    user = User.objects.create_user(name, password=f"{name}-pass-123")
    for g in groups:
        user.groups.add(Group.objects.get_or_create(name=g)[0])
    return user


def _client(user: User) -> Client:
    client = Client()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    client.force_login(user)
    return client


# --- the file formats -------------------------------------------------------------------------


def test_a_yaml_track_reads_into_steps_with_links_access_and_checks() -> None:
    track = tracks.parse(
        "track: sre\ngroups: sre\nsteps:\n  - title: Read\n    read: ['[Runbook](rb.md)', "
        "'https://example.org/x Example']\n    access: k8s-readers\n    verify: [it works]\n"
        "  - Plain step\n",
        "sre.track.yaml",
    )
    assert track.name == "sre" and track.title == "sre" and track.groups == ["sre"]
    first, second = track.steps
    assert [(link.target, link.label) for link in first.read] == [
        ("rb.md", "Runbook"),
        ("https://example.org/x", "Example"),
    ]
    assert first.access == ["k8s-readers"] and first.verify == ["it works"]
    assert (first.key, second.key, second.title) == ("read", "plain-step", "Plain step")


def test_a_markdown_track_reads_russian_labels_and_one_heading_per_step() -> None:
    track = tracks.parse(DBA_TRACK, "dba.track.md")
    assert (track.name, track.title, track.groups, track.leads) == (
        "dba",
        "Онбординг DBA",
        ["dba"],
        ["dba-leads"],
    )
    assert track.description == "Две недели в команде баз данных."
    pg, backups = track.steps
    assert pg.title == "Доступ к PostgreSQL" and pg.line == 9
    assert [link.target for link in pg.read] == ["access/k8s.md"]
    assert pg.access == ["группа pg-readers"] and pg.verify == ["`psql -c 'select 1'` работает"]
    assert [link.target for link in backups.read] == ["runbooks/oncall.md"]


@pytest.mark.parametrize(
    ("text", "name", "line", "words"),
    [
        (BAD_TRACK, "x.track.yaml", 1, "names no groups"),
        ("track: Bad Name\ngroups: [a]\nsteps: [x]\n", "x.track.yaml", 1, "lowercase"),
        ("track: a\ngroups: [a]\nstep: []\n", "x.track.yaml", 3, "unknown key 'step'"),
        ("track: a\ngroups: [a]\nsteps:\n  - read: [x]\n", "x.track.yaml", 4, "no title"),
        ("track: a\ngroups: [a]\nsteps:\n  - title: x\n    when: now\n", "", 5, "'when'"),
        ("track: a\ngroups: [a]\nsteps: [\n", "x.track.yaml", None, "does not parse"),
        ("# no header\n## Step\n", "x.track.md", 1, "YAML header"),
        ("---\ntrack: a\ngroups: [a]\n---\nno steps here\n", "x.track.md", 5, "no steps"),
        ("---\ntrack: a\nsteps: []\n---\n## A\n", "x.track.md", 3, "'## ' headings"),
    ],
)
def test_a_bad_track_file_is_refused_naming_the_line(
    text: str, name: str, line: int | None, words: str
) -> None:
    with pytest.raises(InputError) as caught:
        tracks.parse(text, name)
    assert words in caught.value.message
    if line is not None:
        assert caught.value.line == line


def test_hostile_yaml_is_refused_before_it_is_built() -> None:
    bomb = "a: &a [x,x,x,x,x,x,x,x,x,x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{','.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(8)
    )
    with pytest.raises(InputError, match="expand"):
        tracks.parse(bomb, "bomb.track.yaml")
    with pytest.raises(InputError, match="nested"):
        tracks.parse("[" * 200 + "]" * 200, "deep.track.yaml")


# --- found when the source syncs --------------------------------------------------------------


def test_the_sync_finds_the_tracks_and_keeps_an_unreadable_file_for_the_admin(
    team_kb: TeamKB,
) -> None:
    assert sorted(Track.objects.values_list("name", flat=True)) == ["dba", "sre"]
    sre = Track.objects.get(name="sre")
    assert sre.path == "tracks/sre.track.yaml" and sre.leads == ["sre-leads"]
    assert [s["key"] for s in sre.steps] == [
        "learn-the-on-call-rota",
        "cluster-access",
        "shadow-an-on-call-shift",
    ]
    problem = TrackFileProblem.objects.get()
    assert problem.path == "tracks/bad.track.yaml" and "names no groups" in problem.message


def test_links_are_checked_at_sync_internal_in_the_index_urls_through_the_fetcher(
    team_kb: TeamKB,
) -> None:
    sre = Track.objects.get(name="sre")
    by_target = {link["target"]: link for link in sre.links}
    oncall = by_target["../runbooks/oncall.md"]
    assert oncall["ok"] and oncall["document"]["path"] == "runbooks/oncall.md"
    assert by_target["access/k8s.md"]["ok"]
    assert by_target[f"{team_kb.base}/ok"]["ok"]
    assert by_target[f"{team_kb.base}/missing"] == {
        **by_target[f"{team_kb.base}/missing"],
        "ok": False,
        "problem": "HTTP 404",
    }
    gone = by_target["runbooks/gone.md"]
    assert not gone["ok"] and gone["problem"] == "no such document in the knowledge base"
    assert sre.links_checked is not None


def test_a_link_to_an_internal_address_is_refused_by_the_fetcher_and_shown_broken(
    team_kb: TeamKB, settings: Any, admin_user: User
) -> None:
    settings.KNOWLEDGE_FETCH_ALLOWED_NETWORKS = []
    team_kb.sync(admin_user)
    sre = Track.objects.get(name="sre")
    ok = next(link for link in sre.links if link["target"] == f"{team_kb.base}/ok")
    assert not ok["ok"] and "loopback" in ok["problem"]


def test_a_changed_track_keeps_progress_by_step_and_a_removed_file_removes_the_track(
    team_kb: TeamKB, admin_user: User
) -> None:
    newcomer = _user("nina", "sre")
    sre = Track.objects.get(name="sre")
    TrackProgress.objects.create(user=newcomer, track=sre, step="cluster-access", state="done")
    path = team_kb.root / "tracks/sre.track.yaml"
    text = path.read_text()
    # The cluster step moves first; its id keeps it the same step.
    first, rest = text.split("  - id: cluster-access", 1)
    cluster, shadow = rest.split("  - title: Shadow", 1)
    head, learn = first.split("steps:\n", 1)
    path.write_text(
        f"{head}steps:\n  - id: cluster-access{cluster}{learn}  - title: Shadow{shadow}"
    )
    team_kb.sync(admin_user)
    sre = Track.objects.get(name="sre")
    assert sre.steps[0]["key"] == "cluster-access"
    summary = access.summary(sre, access.progress_of(sre, newcomer))
    assert (summary["done"], summary["total"]) == (1, 3)
    (team_kb.root / "tracks/dba.track.md").unlink()
    team_kb.sync(admin_user)
    assert not Track.objects.filter(name="dba").exists()


def test_two_files_claiming_one_track_name_keep_the_first_and_tell_the_admin(
    team_kb: TeamKB, admin_user: User
) -> None:
    (team_kb.root / "tracks/copy.track.md").write_text(DBA_TRACK)
    team_kb.sync(admin_user)
    assert Track.objects.get(name="dba").path == "tracks/dba.track.md"
    clash = TrackFileProblem.objects.get(path="tracks/copy.track.md")
    assert "already defined" in clash.message


# --- who sees what ----------------------------------------------------------------------------


def test_a_newcomer_sees_the_tracks_of_their_groups_only(team_kb: TeamKB) -> None:
    sre = _client(_user("nina", "sre"))
    page = sre.get("/scenarios/onboarding/").content.decode()
    assert "SRE onboarding" in page and "Онбординг DBA" not in page
    assert sre.get("/scenarios/onboarding/tracks/dba/").status_code == 404
    nobody = _client(_user("olga")).get("/scenarios/onboarding/").content.decode()
    assert 'id="no-tracks"' in nobody


def test_an_unknown_track_names_the_ones_available(team_kb: TeamKB) -> None:
    client = _client(_user("nina", "sre", "dba"))
    response = client.get("/scenarios/onboarding/tracks/sre-2/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 404
    assert "no track 'sre-2'; available: dba, sre" in unescape(response.content.decode())
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "ru"
    ru = client.get("/scenarios/onboarding/tracks/sre-2/")
    assert "нет трека 'sre-2'; доступны: dba, sre" in unescape(ru.content.decode())


def test_the_track_page_shows_steps_links_and_marks_broken_ones(team_kb: TeamKB) -> None:
    page = _client(_user("nina", "sre")).get("/scenarios/onboarding/tracks/sre/").content.decode()
    assert "Get read access to the cluster" in page and "LDAP group k8s-readers" in page
    assert "kubectl get nodes lists the nodes" in page
    assert page.count("broken link") == 2  # runbooks/gone.md and /missing
    assert "On-call runbook" in page and f'href="{team_kb.base}/ok"' in page


def test_progress_done_skipped_and_blocked_with_a_note(team_kb: TeamKB) -> None:
    nina = _user("nina", "sre")
    client = _client(nina)
    url = "/scenarios/onboarding/tracks/sre/steps/cluster-access/"
    done = client.post(url, {"state": "done"}, HTTP_HX_REQUEST="true")
    assert done.status_code == 200
    fragment = done.content.decode()
    assert fragment.lstrip().startswith(
        '<li class="track-step state-done" id="step-cluster-access"'
    )
    assert "1 of 3 done (33%)" in fragment  # the summary, swapped out of band
    refused = client.post(
        "/scenarios/onboarding/tracks/sre/steps/shadow-an-on-call-shift/",
        {"state": "blocked"},
        HTTP_HX_REQUEST="true",
    )
    assert refused.status_code == 200 and "Say what blocks the step" in refused.content.decode()
    assert 'class="track-step state-open"' in refused.content.decode()
    client.post(
        "/scenarios/onboarding/tracks/sre/steps/shadow-an-on-call-shift/",
        {"state": "blocked", "note": "no shift before the 20th"},
    )
    client.post(
        "/scenarios/onboarding/tracks/sre/steps/learn-the-on-call-rota/", {"state": "skipped"}
    )
    states = dict(TrackProgress.objects.filter(user=nina).values_list("step", "state"))
    assert states == {
        "cluster-access": "done",
        "shadow-an-on-call-shift": "blocked",
        "learn-the-on-call-rota": "skipped",
    }
    client.post(url, {"state": "open"})
    assert not TrackProgress.objects.filter(user=nina, step="cluster-access").exists()
    assert (
        client.post("/scenarios/onboarding/tracks/sre/steps/nope/", {"state": "done"}).status_code
        == 302
    )
    assert client.get(url).status_code == 405
    # Someone outside the track's groups cannot record progress on it.
    outsider = _client(_user("olga"))
    assert outsider.post(url, {"state": "done"}).status_code == 404


def test_a_lead_sees_the_newcomers_progress_and_others_do_not(
    team_kb: TeamKB, admin_user: User
) -> None:
    nina = _user("nina", "sre")
    _user("petr", "sre")
    lead = _user("lena", "sre", "sre-leads")
    sre = Track.objects.get(name="sre")
    TrackProgress.objects.create(
        user=nina, track=sre, step="shadow-an-on-call-shift", state="blocked", note="no shift yet"
    )
    page = _client(lead).get("/scenarios/onboarding/tracks/sre/team/").content.decode()
    assert "nina" in page and "petr" in page and "no shift yet" in page
    assert "<td>lena</td>" not in page  # a lead is not a newcomer of the track
    assert _client(nina).get("/scenarios/onboarding/tracks/sre/team/").status_code == 403
    admin = Client()
    admin.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    admin.force_login(admin_user)
    assert admin.get("/scenarios/onboarding/tracks/sre/team/").status_code == 200
    index = _client(lead).get("/scenarios/onboarding/").content.decode()
    assert "/scenarios/onboarding/tracks/sre/team/" in index


def test_the_console_shows_broken_links_and_unreadable_files_to_admins_only(
    team_kb: TeamKB, admin_client: Client
) -> None:
    admin_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    page = admin_client.get("/admin-console/scenarios/onboarding/").content.decode()
    assert "runbooks/gone.md" in page and "HTTP 404" in page
    assert "tracks/bad.track.yaml" in page and "names no groups" in page
    sre = Track.objects.get(name="sre")
    rechecked = admin_client.post(f"/admin-console/scenarios/onboarding/tracks/{sre.pk}/recheck/")
    assert rechecked.status_code == 302
    assert (
        _client(_user("nina", "sre")).get("/admin-console/scenarios/onboarding/").status_code == 403
    )


# --- the command line -------------------------------------------------------------------------


def _manage(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(settings.BASE_DIR / "manage.py"), "scenario", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_command_line_validates_a_track_file(tmp_path: Path) -> None:
    good = tmp_path / "dba.track.md"
    good.write_text(DBA_TRACK)
    result = _manage("analyze", "onboarding", str(good), "--json")
    assert result.returncode == 0, result.stderr
    assert '"track": "dba"' in result.stdout and "onboarding.no-verify" in result.stdout
    bad = tmp_path / "bad.track.yaml"
    bad.write_text(BAD_TRACK)
    refused = _manage("analyze", "onboarding", str(bad))
    assert refused.returncode == 2
    # The command speaks the portal's default language, Russian.
    assert "onboarding: line 1: в треке не указаны группы (groups: [sre])" in refused.stderr
    link = tmp_path / "x.track.yaml"
    link.write_text(
        "track: x\ngroups: [a]\nsteps:\n  - title: t\n    read: ['javascript:alert(1)']\n    verify: ok\n"
    )
    failed = _manage("analyze", "onboarding", str(link))
    assert failed.returncode == 1 and "onboarding.bad-link" in failed.stdout


def test_questions_read_only_the_onboarding_sources_and_the_tracks_links(team_kb: TeamKB) -> None:
    from apps.knowledge.search import answering

    nina = _user("nina", "sre")
    sre = Track.objects.get(name="sre")
    everywhere = answering.ground(nina, "on-call escalation duty phone payroll")
    assert any(c["source"] == "payroll" for c in everywhere.citations)
    scoped = answering.ground(
        nina, "on-call escalation duty phone payroll", scope=access.scope(sre)
    )
    assert scoped.citations and {c["source"] for c in scoped.citations} == {"team"}
    # The other team's page counts once the track links it, and only then.
    team_kb.source.tags = []
    team_kb.source.save(update_fields=["tags"])
    sre.links = [
        {
            "target": "x",
            "ok": True,
            "document": {"source_id": team_kb.other.pk, "external_id": "payroll-oncall.md"},
        }
    ]
    only_link = answering.ground(
        nina, "on-call escalation duty phone payroll", scope=access.scope(sre)
    )
    assert "payroll" in {c["source"] for c in only_link.citations}
    titles = {c["title"] for c in only_link.citations}
    assert not titles & {"On-call runbook", "Cluster access"}
