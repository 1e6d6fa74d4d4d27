"""The packaged encoder's ONNX export: what indexing and every search vector run on."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import pytest

from apps.knowledge.store.embeddings import BATCH_SIZE, Embedder, bands, packaged_model_path

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
    attention scores (a quarter of the int8 model's time), and its vectors, padded in batches,
    are the PyTorch model's: a search ranks the passages as the model itself does."""
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


def test_texts_are_batched_by_length_with_little_padding() -> None:
    """A batch is padded to its longest text. The corpus's chunks are mostly at the 128-piece
    cut with a tail of short ones; cut into bands, every text is encoded once, no batch
    exceeds BATCH_SIZE, and padding is a small share of the word pieces computed (sorting by
    characters and cutting every 32 texts padded 13 % of the corpus's)."""
    rng = np.random.default_rng(7)
    lengths = [128] * 40 + [int(n) for n in rng.integers(6, 128, 24)]
    rng.shuffle(lengths)
    batches = bands(lengths)
    assert sorted(i for batch in batches for i in batch) == list(range(len(lengths)))
    assert all(len(batch) <= BATCH_SIZE for batch in batches)
    computed = sum(len(b) * max(lengths[i] for i in b) for b in batches)
    assert sum(lengths) / computed > 0.9
    fixed = sorted(lengths)
    cuts = [fixed[s : s + BATCH_SIZE] for s in range(0, len(fixed), BATCH_SIZE)]
    before = sum(len(cut) * max(cut) for cut in cuts)
    assert computed < before


def test_a_texts_vector_does_not_depend_on_what_it_is_batched_with() -> None:
    """Texts of different lengths are padded into shared batches: the padding is masked, so
    a text encoded among others gets the vector it gets alone."""
    embedder = Embedder(packaged_model_path(), "onnx")
    together = embedder.encode(PASSAGES)
    alone = np.vstack([embedder.encode([p]) for p in PASSAGES])
    assert (together * alone).sum(1).min() > 0.9999
