"""NVIDIA DCGM exporter: per-GPU utilisation, memory, power and temperature.

Read straight from the exporter's /metrics (DCGM_EXPORTER_URL, several comma-separated for
several GPU nodes), parsed with prometheus_client's text parser: the exporter writes the
Prometheus text format, older versions with a space after each label comma.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from prometheus_client.parser import text_string_to_metric_families

FIELDS = {
    "DCGM_FI_DEV_GPU_UTIL": "util",  # %
    "DCGM_FI_DEV_FB_USED": "fb_used_mib",  # MiB
    "DCGM_FI_DEV_FB_FREE": "fb_free_mib",  # MiB
    "DCGM_FI_DEV_POWER_USAGE": "power_w",  # W
    "DCGM_FI_DEV_GPU_TEMP": "temp_c",  # degrees C
}


@dataclass
class GPUReading:
    """One GPU as the exporter last reported it."""

    host: str
    gpu: str
    uuid: str
    model: str
    util: float | None = None
    fb_used_mib: float | None = None
    fb_free_mib: float | None = None
    power_w: float | None = None
    temp_c: float | None = None

    @property
    def memory_percent(self) -> float | None:
        if self.fb_used_mib is None or self.fb_free_mib is None:
            return None
        total = self.fb_used_mib + self.fb_free_mib
        return 100 * self.fb_used_mib / total if total else None


def parse(text: str, source: str = "") -> list[GPUReading]:
    """Whole-GPU readings (MIG instance series, labelled GPU_I_ID, are left out)."""
    gpus: dict[tuple[str, str], GPUReading] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            field = FIELDS.get(sample.name)
            labels = sample.labels
            if field is None or "GPU_I_ID" in labels:
                continue
            host = labels.get("Hostname") or source
            key = (host, labels.get("UUID") or labels.get("gpu", ""))
            reading = gpus.get(key)
            if reading is None:
                reading = gpus[key] = GPUReading(
                    host=host,
                    gpu=labels.get("gpu", ""),
                    uuid=labels.get("UUID", ""),
                    model=labels.get("modelName", ""),
                )
            setattr(reading, field, sample.value)
    return sorted(gpus.values(), key=lambda g: (g.host, _index(g.gpu)))


def _index(gpu: str) -> int:
    return int(gpu) if gpu.isdigit() else 0


def read(urls: list[str], timeout: float = 3.0) -> tuple[list[GPUReading], list[str]]:
    """Readings from every exporter, and one error line per exporter that did not answer."""
    readings: list[GPUReading] = []
    errors: list[str] = []
    for url in urls:
        try:
            response = httpx.get(url, timeout=timeout)
            response.raise_for_status()
            readings += parse(response.text, source=httpx.URL(url).host)
        except (httpx.HTTPError, ValueError) as exc:
            errors.append(f"{url}: {type(exc).__name__}: {exc}"[:300])
    return readings, errors
