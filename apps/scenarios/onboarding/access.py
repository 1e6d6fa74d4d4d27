"""Who sees which track, who leads it, and what a track's questions may read.

A newcomer sees the tracks of their groups (mirrored from LDAP at sign-in). A lead of a track
is a member of one of the groups its file names under `leads`, or a portal admin: leads see
the progress of the track's newcomers (members of its groups who are not leads themselves,
and anyone who has recorded progress on it).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils.translation import gettext as _

from apps.accounts.roles import is_portal_admin, user_group_names
from apps.knowledge.models import Document, Source
from apps.knowledge.search import answering
from apps.knowledge.store.qdrant import doc_key
from apps.scenarios.onboarding.models import Track, TrackProgress
from apps.scenarios.onboarding.tracks import is_track_path

# Knowledge sources an admin tagged so are read by every track's questions.
SOURCE_TAG = "onboarding"
# Documents a question may read at most (the onboarding sources' and the track's links).
MAX_DOCUMENTS = 5000


class UnknownTrack(LookupError):
    def __init__(self, name: str, available: list[str]) -> None:
        self.name = name
        self.available = available
        super().__init__(name)

    @property
    def message(self) -> str:
        names = ", ".join(self.available) if self.available else _("none")
        return _("no track '%(name)s'; available: %(names)s") % {"name": self.name, "names": names}

    def __str__(self) -> str:
        return self.message


def follows(user: Any, track: Track) -> bool:
    return bool(set(user_group_names(user)) & set(track.groups))


def leads(user: Any, track: Track) -> bool:
    return is_portal_admin(user) or bool(set(user_group_names(user)) & set(track.leads))


def may_view(user: Any, track: Track) -> bool:
    return follows(user, track) or leads(user, track)


def visible(user: Any) -> list[Track]:
    """The tracks of the user's groups, then those they lead."""
    rows = list(Track.objects.select_related("source"))
    mine = [t for t in rows if follows(user, t)]
    return mine + [t for t in rows if t not in mine and leads(user, t)]


def led(user: Any) -> list[Track]:
    return [t for t in Track.objects.all() if leads(user, t)]


def find(user: Any, name: str) -> Track:
    """The track called `name` that the user may see; UnknownTrack lists the ones they may."""
    tracks = visible(user)
    for track in tracks:
        if track.name == name.strip():
            return track
    raise UnknownTrack(name.strip(), sorted(t.name for t in tracks))


def newcomers(track: Track) -> list[Any]:
    """Members of the track's groups who do not lead it, and whoever recorded progress."""
    users = get_user_model().objects.filter(is_active=True)
    members = users.filter(
        Q(groups__name__in=track.groups) | Q(onboarding_progress__track=track)
    ).distinct()
    return sorted(
        (u for u in members.prefetch_related("groups") if not _lead_member(u, track)),
        key=lambda u: u.get_username(),
    )


def _lead_member(user: Any, track: Track) -> bool:
    names = {g.name for g in user.groups.all()}
    return bool(names & set(track.leads))


def progress_of(track: Track, user: Any) -> dict[str, TrackProgress]:
    return {p.step: p for p in TrackProgress.objects.filter(track=track, user=user)}


def summary(track: Track, rows: dict[str, TrackProgress]) -> dict[str, int]:
    keys = [s["key"] for s in track.steps]
    counts = {"total": len(keys), "done": 0, "skipped": 0, "blocked": 0, "open": 0}
    for key in keys:
        row = rows.get(key)
        counts[row.state if row else "open"] += 1
    counts["percent"] = round(100 * (counts["done"] + counts["skipped"]) / max(1, len(keys)))
    return counts


def scope(track: Track | None) -> answering.Scope:
    """What a question on the track may read: the sources tagged "onboarding", the track
    file itself and the documents its links name (within what the asking user may read).
    Without a track (a newcomer whose groups have none): the tagged sources only."""
    keys: set[str] = set()
    if track is not None:
        keys.add(doc_key(track.source_id, track.external_id))
    for link in track.links if track is not None else []:
        document = link.get("document")
        if document:
            keys.add(doc_key(int(document["source_id"]), str(document["external_id"])))
    tagged = [
        pk for pk, tags in Source.objects.values_list("pk", "tags") if SOURCE_TAG in (tags or [])
    ]
    rows = Document.objects.filter(source_id__in=tagged, chunk_count__gt=0)
    for source_id, external_id, path in rows.values_list("source_id", "external_id", "path")[
        :MAX_DOCUMENTS
    ]:
        # Other teams' track files are not this newcomer's sources.
        if not is_track_path(path):
            keys.add(doc_key(source_id, external_id))
    if not keys:
        # An empty scope would not narrow at all: nothing to read means nothing found.
        return answering.Scope(source_ids=frozenset({-1}))
    return answering.Scope(doc_keys=frozenset(keys))
