"""Readiness of the vector index for /readyz."""

from __future__ import annotations

from django.conf import settings

from common.health import CheckResult


def check() -> CheckResult:
    from apps.knowledge.store import qdrant

    try:
        with qdrant.locked() as qc:
            names = [c.name for c in qc.get_collections().collections]
    except qdrant.IndexUnavailable as exc:
        return CheckResult(False, str(exc)[:300])
    except Exception as exc:
        return CheckResult(False, f"{type(exc).__name__}: {exc}"[:300])
    where = settings.QDRANT_URL or f"embedded {settings.QDRANT_ENGINE} at {settings.QDRANT_PATH}"
    return CheckResult(True, f"{where}, {len(names)} collection(s)")
