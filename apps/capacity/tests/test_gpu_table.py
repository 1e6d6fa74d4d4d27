"""The Cluster page's GPU table, fed over HTTP by a server replaying a recorded real DCGM
exporter response (there is no GPU here)."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db
DATA = Path(__file__).parent / "data"


@pytest.fixture
def recorded_exporter() -> Iterator[str]:
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(DATA))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_gpu_table_from_recorded_exporter(
    recorded_exporter: str, admin_client: Client, settings
) -> None:
    settings.PROMETHEUS_URL = ""
    settings.DCGM_EXPORTER_URL = (
        f"{recorded_exporter}/dcgm_exporter_2.0.13_recorded.txt,"
        f"{recorded_exporter}/dcgm_exporter_a100_mig_recorded.txt,"
        "http://127.0.0.1:9/metrics"
    )
    page = admin_client.get(reverse("cluster:index")).content.decode()
    assert 'data-gpu="127.0.0.1/0"' in page and 'data-gpu="ub20-a100-k8s/0"' in page
    a100 = page[page.index('data-gpu="ub20-a100-k8s/0"') :][:600]
    assert "4845 MiB" in a100 and "410 W" in a100 and "61 °C" in a100
    # An exporter that does not answer is named, and the others still show.
    assert "Экспортёр DCGM не ответил" in page and "127.0.0.1:9" in page
