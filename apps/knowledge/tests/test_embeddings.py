"""The packaged encoder's ONNX export: what indexing and every search vector run on."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import pytest

from apps.knowledge.store.embeddings import Embedder, packaged_model_path

PASSAGES = [
    "Restart the pod with kubectl rollout restart deployment/web and watch the probes.",
    "Ceph reports PG_DEGRADED when placement groups have fewer copies than the pool size.",
    "Set proxy_read_timeout in the nginx location block when the upstream answers slowly.",
    "RabbitMQ queues grow when consumers are slower than publishers; add consumers or "
    "lower the prefetch count. " * 3,
    "short",
]


@pytest.mark.parametrize("backend", ["onnx", "onnx-int8"])
def test_the_export_has_no_nan_guard_and_gives_the_models_own_vectors(
    settings, tmp_path: Path, backend: str
) -> None:
    """Attention is exported as plain products: the graph holds no IsNaN pass over the
    attention scores (a quarter of the int8 model's time), and its vectors, padded in one
    batch, are the PyTorch model's: a search ranks the passages as the model itself does."""
    settings.VAR_DIR = tmp_path  # a fresh export, not one cached by an earlier run
    embedder = Embedder(packaged_model_path(), backend)
    assert embedder.backend == backend
    exported = next(
        tmp_path.glob(f"models/*/{'model-int8' if 'int8' in backend else 'model'}.onnx")
    )
    ops = Counter(node.op_type for node in onnx.load(str(exported)).graph.node)
    assert ops["IsNaN"] == 0 and ops["MatMul"] + ops["MatMulInteger"] > 0

    ours = embedder.encode(PASSAGES)
    theirs = embedder.model.encode(PASSAGES, normalize_embeddings=True)
    agreement = (ours * theirs).sum(1)
    assert agreement.min() > (0.999 if backend == "onnx" else 0.95), agreement
    query = embedder.encode(["my pod keeps failing its readiness probe after a deploy"])[0]
    assert np.argsort(-(ours @ query))[0] == np.argsort(-(theirs @ query))[0] == 0
