"""Catalogs of models and GPUs the planner knows by name.

Every figure is copied from a published source named in the comment above the entry: the
model's config.json on Hugging Face (layers, heads, head_dim, vocabulary) and its
model.safetensors.index.json `total_size` / model card (parameter counts), and the GPU
vendor's datasheet. head_dim is read from config.json where the model states it (Mistral v0.3,
Qwen3); where config.json leaves it out, the comment says so and gives the value the
transformers config class uses (hidden_size / num_attention_heads), which is what the model
runs with.

Active parameters of a MoE model are counted from its config.json (shared weights + k experts
per layer + embeddings), because model cards round them.

No Django here: the planner, the management command and the views all read these.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class ModelSpec:
    """A transformer as the planner needs it. `kind` is "llm" or "embedding"."""

    key: str
    name: str
    num_hidden_layers: int
    hidden_size: int
    num_attention_heads: int
    num_key_value_heads: int
    head_dim: int
    params_total: int
    params_active: int
    vocab_size: int = 0
    tie_word_embeddings: bool = False
    num_experts: int = 0
    experts_per_token: int = 0
    kind: str = "llm"
    source: str = ""

    @property
    def is_moe(self) -> bool:
        return self.num_experts > 1 and self.experts_per_token > 0


@dataclass(frozen=True)
class GPUSpec:
    """One accelerator. Memory is what the driver reports as total (nvidia-smi), which is
    what vLLM multiplies by gpu_memory_utilization; GDDR6 data-centre cards keep ECC on and
    report about 1/16 less than the datasheet capacity."""

    key: str
    name: str
    memory_gb: float  # datasheet capacity, GB as printed by the vendor
    memory_bytes: int  # total reported by the driver
    bandwidth_gbs: float  # datasheet memory bandwidth, GB/s (10^9)
    bf16_tflops: float  # dense (no sparsity) BF16 tensor TFLOPS
    fp8_tflops: float  # dense FP8 tensor TFLOPS; 0 where the GPU has no FP8 tensor cores
    power_w: float  # board power / TDP
    price: float  # indicative unit price in USD; the planner form lets the user edit it
    interconnect: str  # "nvlink" or "pcie": what tensor-parallel all-reduce runs over
    # The two figures below are estimates, not datasheet values (see docs/capacity.md):
    # the bus bandwidth nccl-tests' all_reduce_perf typically reports on such a link, and the
    # latency of one small all-reduce (vLLM's custom all-reduce on NVLink/P2P PCIe, NCCL
    # through host memory where the driver disables peer-to-peer, as on GeForce cards).
    allreduce_busbw_gbs: float
    allreduce_latency_us: float
    # NVIDIA's GeForce driver licence does not permit datacenter deployment, so a GeForce card
    # is only shown where the user asked for it, never suggested for the cluster.
    datacenter: bool = True
    source: str = ""


MiB = 1024 * 1024

# --- models ------------------------------------------------------------------------------------
MODELS: dict[str, ModelSpec] = {
    # huggingface.co/mistralai/Mistral-7B-Instruct-v0.3/blob/main/config.json: 32 layers,
    # hidden 4096, 32 heads, 8 KV heads, head_dim 128 (stated), vocab 32768, untied.
    # Parameters: model.safetensors.index.json total_size 14,496,047,104 B at bf16.
    "mistral-7b": ModelSpec(
        key="mistral-7b",
        name="Mistral-7B-Instruct-v0.3",
        num_hidden_layers=32,
        hidden_size=4096,
        num_attention_heads=32,
        num_key_value_heads=8,
        head_dim=128,
        params_total=7_248_023_552,
        params_active=7_248_023_552,
        vocab_size=32768,
        source="huggingface.co/mistralai/Mistral-7B-Instruct-v0.3 config.json",
    ),
    # huggingface.co/mistralai/Mixtral-8x7B-Instruct-v0.1/blob/main/config.json: 32 layers,
    # hidden 4096, 32 heads, 8 KV heads, num_local_experts 8, num_experts_per_tok 2,
    # intermediate 14336, vocab 32000, untied. config.json has no head_dim, so MixtralConfig
    # uses hidden_size / num_attention_heads = 128. Total 46,702,792,704 (safetensors index);
    # active = 32 x (attention 41,943,040 + router 32,768 + norms 8,192 + 2 experts x
    # 176,160,768) + embeddings and lm_head 2 x 131,072,000 + final norm = 12,879,925,248.
    "mixtral-8x7b": ModelSpec(
        key="mixtral-8x7b",
        name="Mixtral-8x7B-Instruct-v0.1",
        num_hidden_layers=32,
        hidden_size=4096,
        num_attention_heads=32,
        num_key_value_heads=8,
        head_dim=128,
        params_total=46_702_792_704,
        params_active=12_879_925_248,
        vocab_size=32000,
        num_experts=8,
        experts_per_token=2,
        source="huggingface.co/mistralai/Mixtral-8x7B-Instruct-v0.1 config.json",
    ),
    # huggingface.co/meta-llama/Meta-Llama-3-8B/blob/main/config.json: 32 layers, hidden
    # 4096, 32 heads, 8 KV heads, vocab 128256, untied; no head_dim in config.json, so
    # LlamaConfig uses 4096 / 32 = 128. Parameters 8,030,261,248 (safetensors index).
    "llama-3-8b": ModelSpec(
        key="llama-3-8b",
        name="Meta-Llama-3-8B",
        num_hidden_layers=32,
        hidden_size=4096,
        num_attention_heads=32,
        num_key_value_heads=8,
        head_dim=128,
        params_total=8_030_261_248,
        params_active=8_030_261_248,
        vocab_size=128256,
        source="huggingface.co/meta-llama/Meta-Llama-3-8B config.json",
    ),
    # huggingface.co/meta-llama/Meta-Llama-3-70B/blob/main/config.json: 80 layers, hidden
    # 8192, 64 heads, 8 KV heads, vocab 128256, untied; no head_dim in config.json, so
    # LlamaConfig uses 8192 / 64 = 128. Parameters 70,553,706,496 (safetensors index).
    "llama-3-70b": ModelSpec(
        key="llama-3-70b",
        name="Meta-Llama-3-70B",
        num_hidden_layers=80,
        hidden_size=8192,
        num_attention_heads=64,
        num_key_value_heads=8,
        head_dim=128,
        params_total=70_553_706_496,
        params_active=70_553_706_496,
        vocab_size=128256,
        source="huggingface.co/meta-llama/Meta-Llama-3-70B config.json",
    ),
    # huggingface.co/Qwen/Qwen2.5-7B-Instruct/blob/main/config.json: 28 layers, hidden 3584,
    # 28 heads, 4 KV heads, vocab 152064, untied; no head_dim in config.json, so Qwen2Config
    # uses 3584 / 28 = 128. Parameters 7,615,616,512 (safetensors index; card: 7.61B).
    "qwen2.5-7b": ModelSpec(
        key="qwen2.5-7b",
        name="Qwen2.5-7B-Instruct",
        num_hidden_layers=28,
        hidden_size=3584,
        num_attention_heads=28,
        num_key_value_heads=4,
        head_dim=128,
        params_total=7_615_616_512,
        params_active=7_615_616_512,
        vocab_size=152064,
        source="huggingface.co/Qwen/Qwen2.5-7B-Instruct config.json",
    ),
    # huggingface.co/Qwen/Qwen2.5-32B-Instruct/blob/main/config.json: 64 layers, hidden 5120,
    # 40 heads, 8 KV heads, vocab 152064, untied; head_dim not stated: 5120 / 40 = 128.
    # Parameters 32,763,876,352 (safetensors index; card: 32.5B).
    "qwen2.5-32b": ModelSpec(
        key="qwen2.5-32b",
        name="Qwen2.5-32B-Instruct",
        num_hidden_layers=64,
        hidden_size=5120,
        num_attention_heads=40,
        num_key_value_heads=8,
        head_dim=128,
        params_total=32_763_876_352,
        params_active=32_763_876_352,
        vocab_size=152064,
        source="huggingface.co/Qwen/Qwen2.5-32B-Instruct config.json",
    ),
    # huggingface.co/Qwen/Qwen2.5-72B-Instruct/blob/main/config.json: 80 layers, hidden 8192,
    # 64 heads, 8 KV heads, vocab 152064, untied; head_dim not stated: 8192 / 64 = 128.
    # Parameters 72,706,203,648 (safetensors index; card: 72.7B).
    "qwen2.5-72b": ModelSpec(
        key="qwen2.5-72b",
        name="Qwen2.5-72B-Instruct",
        num_hidden_layers=80,
        hidden_size=8192,
        num_attention_heads=64,
        num_key_value_heads=8,
        head_dim=128,
        params_total=72_706_203_648,
        params_active=72_706_203_648,
        vocab_size=152064,
        source="huggingface.co/Qwen/Qwen2.5-72B-Instruct config.json",
    ),
    # huggingface.co/Qwen/Qwen3-30B-A3B/blob/main/config.json: 48 layers, hidden 2048,
    # 32 heads, 4 KV heads, head_dim 128 (stated: 32 x 128 = 4096 != hidden 2048), 128
    # experts, 8 per token, moe_intermediate_size 768, vocab 151936, untied. Total
    # 30,532,122,624 (safetensors index); active = 48 x (attention 18,874,624 + router
    # 262,144 + norms 4,096 + 8 experts x 4,718,592) + 2 x 311,164,928 + final norm
    # = 3,353,032,704 (card: 3.3B).
    "qwen3-30b-a3b": ModelSpec(
        key="qwen3-30b-a3b",
        name="Qwen3-30B-A3B",
        num_hidden_layers=48,
        hidden_size=2048,
        num_attention_heads=32,
        num_key_value_heads=4,
        head_dim=128,
        params_total=30_532_122_624,
        params_active=3_353_032_704,
        vocab_size=151936,
        num_experts=128,
        experts_per_token=8,
        source="huggingface.co/Qwen/Qwen3-30B-A3B config.json",
    ),
    # Embedding models have no KV cache and no decode; they are listed for their weight
    # footprint when they share a GPU with an LLM.
    # huggingface.co/BAAI/bge-m3/blob/main/config.json (XLMRobertaModel): 24 layers, hidden
    # 1024, 16 heads, vocab 250002; head_dim not stated: 1024 / 16 = 64. Card: 568M params.
    "bge-m3": ModelSpec(
        key="bge-m3",
        name="BAAI/bge-m3 (embeddings)",
        num_hidden_layers=24,
        hidden_size=1024,
        num_attention_heads=16,
        num_key_value_heads=16,
        head_dim=64,
        params_total=567_754_752,
        params_active=567_754_752,
        vocab_size=250002,
        tie_word_embeddings=True,
        kind="embedding",
        source="huggingface.co/BAAI/bge-m3 config.json",
    ),
    # huggingface.co/sentence-transformers/all-MiniLM-L6-v2/blob/main/config.json (BertModel):
    # 6 layers, hidden 384, 12 heads, vocab 30522; head_dim not stated: 384 / 12 = 32.
    # 22,713,216 parameters (model.safetensors, 90.9 MB at fp32). The portal's packaged default.
    "all-minilm-l6-v2": ModelSpec(
        key="all-minilm-l6-v2",
        name="all-MiniLM-L6-v2 (embeddings)",
        num_hidden_layers=6,
        hidden_size=384,
        num_attention_heads=12,
        num_key_value_heads=12,
        head_dim=32,
        params_total=22_713_216,
        params_active=22_713_216,
        vocab_size=30522,
        tie_word_embeddings=True,
        kind="embedding",
        source="huggingface.co/sentence-transformers/all-MiniLM-L6-v2 config.json",
    ),
}

# --- GPUs --------------------------------------------------------------------------------------
# Prices are indicative 2025 street prices for budgeting only, editable on the planner page:
# they are not quotes. TFLOPS are dense; vendor tables print sparse figures at twice these.
GPUS: dict[str, GPUSpec] = {
    # NVIDIA L4 datasheet: 24 GB GDDR6, 300 GB/s, BF16 242 TFLOPS* / FP8 485 TFLOPS*
    # (*with sparsity -> 121 / 242.5 dense), 72 W, PCIe Gen4 x16. nvidia-smi: 23034 MiB (ECC).
    "l4": GPUSpec(
        key="l4",
        name="NVIDIA L4",
        memory_gb=24,
        memory_bytes=23034 * MiB,
        bandwidth_gbs=300,
        bf16_tflops=121,
        fp8_tflops=242.5,
        power_w=72,
        price=2500,
        interconnect="pcie",
        allreduce_busbw_gbs=20,
        allreduce_latency_us=25,
        source="NVIDIA L4 Tensor Core GPU datasheet",
    ),
    # NVIDIA L40S datasheet: 48 GB GDDR6 with ECC, 864 GB/s, BF16 362.05 TFLOPS dense
    # (733 with sparsity), FP8 733 dense (1466 with sparsity), 350 W, PCIe Gen4 x16, no NVLink.
    # nvidia-smi: 46068 MiB (ECC on).
    "l40s": GPUSpec(
        key="l40s",
        name="NVIDIA L40S",
        memory_gb=48,
        memory_bytes=46068 * MiB,
        bandwidth_gbs=864,
        bf16_tflops=362.05,
        fp8_tflops=733,
        power_w=350,
        price=8000,
        interconnect="pcie",
        allreduce_busbw_gbs=20,
        allreduce_latency_us=25,
        source="NVIDIA L40S datasheet",
    ),
    # NVIDIA Ada Lovelace architecture whitepaper (GeForce has no datasheet), RTX 4090:
    # 24 GB GDDR6X, 1008 GB/s, BF16 tensor 165.2 TFLOPS dense with FP32 accumulate (what
    # inference kernels use; 330.3 only with FP16 accumulate), FP8 330.3 dense with FP32
    # accumulate, 450 W total board power. The driver disables PCIe peer-to-peer on GeForce,
    # so all-reduce goes through host memory. nvidia-smi: 24564 MiB.
    "rtx4090": GPUSpec(
        key="rtx4090",
        name="NVIDIA GeForce RTX 4090",
        memory_gb=24,
        memory_bytes=24564 * MiB,
        bandwidth_gbs=1008,
        bf16_tflops=165.2,
        fp8_tflops=330.3,
        power_w=450,
        price=1800,
        interconnect="pcie",
        allreduce_busbw_gbs=10,
        allreduce_latency_us=40,
        datacenter=False,
        source="NVIDIA Ada Lovelace GPU architecture whitepaper (RTX 4090)",
    ),
    # NVIDIA A100 datasheet, 80GB SXM: HBM2e 2,039 GB/s, BF16 312 TFLOPS dense (624 sparse),
    # no FP8 tensor cores, 400 W, NVLink 600 GB/s. nvidia-smi: 81920 MiB.
    "a100-80g-sxm": GPUSpec(
        key="a100-80g-sxm",
        name="NVIDIA A100 80GB SXM",
        memory_gb=80,
        memory_bytes=81920 * MiB,
        bandwidth_gbs=2039,
        bf16_tflops=312,
        fp8_tflops=0,
        power_w=400,
        price=15000,
        interconnect="nvlink",
        allreduce_busbw_gbs=230,
        allreduce_latency_us=10,
        source="NVIDIA A100 Tensor Core GPU datasheet (80GB SXM)",
    ),
    # NVIDIA A100 datasheet, 80GB PCIe: HBM2e 1,935 GB/s, BF16 312 TFLOPS dense, no FP8,
    # 300 W, PCIe Gen4 (NVLink bridge optional; not assumed). nvidia-smi: 81920 MiB.
    "a100-80g-pcie": GPUSpec(
        key="a100-80g-pcie",
        name="NVIDIA A100 80GB PCIe",
        memory_gb=80,
        memory_bytes=81920 * MiB,
        bandwidth_gbs=1935,
        bf16_tflops=312,
        fp8_tflops=0,
        power_w=300,
        price=14000,
        interconnect="pcie",
        allreduce_busbw_gbs=20,
        allreduce_latency_us=25,
        source="NVIDIA A100 Tensor Core GPU datasheet (80GB PCIe)",
    ),
    # NVIDIA H100 datasheet, SXM: 80 GB HBM3, 3.35 TB/s, BF16 1,979 TFLOPS* / FP8 3,958*
    # (*sparse -> 989.4 / 1,978.9 dense), up to 700 W, NVLink 900 GB/s. nvidia-smi: 81559 MiB.
    "h100-sxm": GPUSpec(
        key="h100-sxm",
        name="NVIDIA H100 SXM",
        memory_gb=80,
        memory_bytes=81559 * MiB,
        bandwidth_gbs=3350,
        bf16_tflops=989.4,
        fp8_tflops=1978.9,
        power_w=700,
        price=30000,
        interconnect="nvlink",
        allreduce_busbw_gbs=360,
        allreduce_latency_us=8,
        source="NVIDIA H100 Tensor Core GPU datasheet (H100 SXM)",
    ),
    # NVIDIA H100 datasheet, PCIe (the product brief's "H100 PCIe"; the later H100 NVL has
    # 94 GB): 80 GB HBM2e, 2.0 TB/s, BF16 1,513 TFLOPS* / FP8 3,026* (*sparse -> 756 / 1,513
    # dense), 300-350 W, PCIe Gen5 x16. nvidia-smi: 81559 MiB.
    "h100-pcie": GPUSpec(
        key="h100-pcie",
        name="NVIDIA H100 PCIe",
        memory_gb=80,
        memory_bytes=81559 * MiB,
        bandwidth_gbs=2000,
        bf16_tflops=756,
        fp8_tflops=1513,
        power_w=350,
        price=25000,
        interconnect="pcie",
        allreduce_busbw_gbs=40,
        allreduce_latency_us=20,
        source="NVIDIA H100 Tensor Core GPU datasheet (H100 PCIe)",
    ),
    # NVIDIA H200 datasheet, SXM: 141 GB HBM3e, 4.8 TB/s, BF16 1,979 TFLOPS* / FP8 3,958*
    # (*sparse -> 989.4 / 1,978.9 dense), up to 700 W, NVLink 900 GB/s. nvidia-smi: 143771 MiB.
    "h200": GPUSpec(
        key="h200",
        name="NVIDIA H200 SXM",
        memory_gb=141,
        memory_bytes=143771 * MiB,
        bandwidth_gbs=4800,
        bf16_tflops=989.4,
        fp8_tflops=1978.9,
        power_w=700,
        price=32000,
        interconnect="nvlink",
        allreduce_busbw_gbs=360,
        allreduce_latency_us=8,
        source="NVIDIA H200 Tensor Core GPU datasheet (H200 SXM)",
    ),
}

WEIGHT_FORMATS = ("bf16", "fp16", "fp8", "awq", "gptq")
KV_DTYPES = ("auto", "bf16", "fp16", "fp8")


def llm_models() -> list[ModelSpec]:
    return [m for m in MODELS.values() if m.kind == "llm"]


class CatalogError(ValueError):
    """An unknown name or a malformed custom entry; the message says which and why.

    `code` and `params` let a page word the same error in the reader's language."""

    def __init__(self, message: str, code: str = "", **params: object) -> None:
        super().__init__(message)
        self.code = code
        self.params = params


def model(key: str) -> ModelSpec:
    try:
        return MODELS[key]
    except KeyError:
        known = ", ".join(m.key for m in llm_models())
        raise CatalogError(f"unknown model {key!r}; known models: {known}") from None


def gpu(key: str) -> GPUSpec:
    try:
        return GPUS[key]
    except KeyError:
        raise CatalogError(f"unknown GPU {key!r}; known GPUs: {', '.join(GPUS)}") from None


def with_price(spec: GPUSpec, price: float | None) -> GPUSpec:
    return spec if price is None else replace(spec, price=price)


_MODEL_REQUIRED = (
    "num_hidden_layers",
    "hidden_size",
    "num_attention_heads",
    "num_key_value_heads",
    "head_dim",
    "params_total",
    "params_active",
)


def _positive_int(data: dict[str, object], name: str, default: int | None = None) -> int:
    raw = data.get(name, default)
    if raw is None:
        raise CatalogError(f"custom model: {name} is required", "required", name=name)
    # bool is an int in Python; true/false in JSON is a mistake here, not 1/0.
    if isinstance(raw, bool) or not isinstance(raw, int | float) or raw != int(raw):
        raise CatalogError(
            f"custom model: {name} must be a whole number, got {raw!r}", "whole", name=name
        )
    if int(raw) < 0 or (int(raw) == 0 and default is None):
        raise CatalogError(
            f"custom model: {name} must be positive, got {raw!r}", "positive", name=name
        )
    return int(raw)


def custom_model(data: object, name: str = "custom") -> ModelSpec:
    """A model from a config.json-like object (the CLI's --model-json, the form's fields)."""
    if not isinstance(data, dict):
        raise CatalogError("custom model: expected a JSON object", "not_object")
    values = {key: _positive_int(data, key) for key in _MODEL_REQUIRED}
    experts = _positive_int(data, "num_experts", 0)
    per_token = _positive_int(data, "experts_per_token", 0)
    if experts and not per_token or per_token and not experts:
        raise CatalogError(
            "custom model: give both num_experts and experts_per_token, or neither", "experts_pair"
        )
    if experts and per_token > experts:
        raise CatalogError(
            "custom model: experts_per_token cannot exceed num_experts", "experts_exceed"
        )
    if values["params_active"] > values["params_total"]:
        raise CatalogError(
            "custom model: params_active cannot exceed params_total", "active_exceeds"
        )
    if experts and values["params_active"] == values["params_total"]:
        raise CatalogError(
            "custom model: a mixture of experts has fewer active than total params", "moe_active"
        )
    if values["num_attention_heads"] % values["num_key_value_heads"]:
        raise CatalogError(
            "custom model: num_attention_heads must be a multiple of num_key_value_heads",
            "heads_multiple",
        )
    label = str(data.get("name") or name)[:80]
    return ModelSpec(
        key="custom",
        name=label,
        vocab_size=_positive_int(data, "vocab_size", 0),
        tie_word_embeddings=bool(data.get("tie_word_embeddings", False)),
        num_experts=experts,
        experts_per_token=per_token,
        source="entered by the user",
        num_hidden_layers=values["num_hidden_layers"],
        hidden_size=values["hidden_size"],
        num_attention_heads=values["num_attention_heads"],
        num_key_value_heads=values["num_key_value_heads"],
        head_dim=values["head_dim"],
        params_total=values["params_total"],
        params_active=values["params_active"],
    )


def custom_gpu(
    *,
    name: str,
    memory_gb: float,
    bandwidth_gbs: float,
    bf16_tflops: float,
    fp8_tflops: float = 0,
    power_w: float = 0,
    price: float = 0,
    interconnect: str = "pcie",
) -> GPUSpec:
    """A GPU entered on the form. Memory is taken as GiB reported by the driver."""
    for label, value in (
        ("memory", memory_gb),
        ("bandwidth", bandwidth_gbs),
        ("BF16 TFLOPS", bf16_tflops),
    ):
        if value <= 0:
            raise CatalogError(f"custom GPU: {label} must be positive", "gpu_positive", name=label)
    nvlink = interconnect == "nvlink"
    return GPUSpec(
        key="custom",
        name=name[:80] or "custom GPU",
        memory_gb=memory_gb,
        memory_bytes=int(memory_gb * 1024**3),
        bandwidth_gbs=bandwidth_gbs,
        bf16_tflops=bf16_tflops,
        fp8_tflops=max(fp8_tflops, 0),
        power_w=max(power_w, 0),
        price=max(price, 0),
        interconnect="nvlink" if nvlink else "pcie",
        allreduce_busbw_gbs=230 if nvlink else 20,
        allreduce_latency_us=10 if nvlink else 25,
        source="entered by the user",
    )
