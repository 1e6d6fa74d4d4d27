"""Signals other apps listen to, so that knowledge never imports them.

`source_synced(sender=Source, source=..., job=..., added=[...])` is sent when a sync or
rebuild of a source has finished without failing: its Document rows and index now hold what
the source holds; `added` are the external ids of documents indexed for the first time.
Receivers run in the process that ran the job (a Celery worker, or the request under eager
jobs); one that raises is logged and does not fail the job.
"""

from __future__ import annotations

from django.dispatch import Signal

source_synced = Signal()
