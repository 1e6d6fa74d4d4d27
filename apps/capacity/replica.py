"""First-principles sizing of a vLLM cluster: memory, decode bandwidth, prefill compute.

Pure functions and dataclasses (no Django), so the page, the management command and the tests
compute the same numbers. Every figure carries the formula it came from, as shown on the page.

Model of one replica (TP GPUs serving B sequences that decode at once):
- Weights: bytes per format. AWQ/GPTQ int4 with group size 128 stores 4 bits + an fp16 scale
  and a 4-bit zero point per 128 weights = 4 + 20/128 = 4.156 bits; embeddings, lm_head and the
  MoE router stay fp16 (vLLM quantization/awq.py). FP8 checkpoints keep the same layers in bf16.
- KV cache: 2 x layers x kv_heads x head_dim x bytes per token (vLLM kv_cache_interface.py),
  in blocks of 16 tokens; what fits is total memory x gpu_memory_utilization minus weights minus
  a reserve for activations, CUDA graphs and the CUDA/NCCL context.
- Decode step: memory-bound. Bytes read per step = weights actually read (MoE: only the experts
  the batch routes to, E x (1 - (1 - k/E)^B) per layer in expectation, for uniform routing) plus
  each sequence's KV at its average context; time = bytes / (TP x bandwidth x efficiency) + a
  fixed per-step overhead. Calibration: Llama-3.1-8B bf16 at one request on an A100 40GB decodes
  ~75 tok/s, 77 % of the 1,555 GB/s bound (johnmusgrave.com, "vLLM throughput-latency sweep on
  NVIDIA A100", vLLM 0.23); vLLM runs generally land at 70-85 % of the bound. Efficiency 0.8
  plus 1 ms per step reproduces that point (13.2 ms/step) and keeps the fast GPUs honest: a
  cross-GPU batch-1 study (arXiv 2605.30571) finds the achieved fraction of the memory floor
  falls as bandwidth rises, from launch-side overhead (CUDA graphs alone gave 1.26x on H100),
  which a fixed term models and a lower efficiency would not. A compute bound (2 x active
  params x B FLOPs) takes over at large batches.
- Tensor parallelism divides weights, KV and bytes read per GPU, and adds two all-reduces of
  the hidden state per layer: 2 x layers x (latency + tokens x hidden x 2 B x 2(TP-1)/TP /
  bus bandwidth), ring all-reduce cost as nccl-tests defines bus bandwidth.
- Prefill: compute-bound, 2 x active params x prompt + 2 x layers x prompt^2 x heads x head_dim
  (causal attention) FLOPs at TFLOPS x MFU; MFU 0.5 by default (large prefill GEMMs reach
  60-70 % of dense peak, attention and the rest less).
- Per-user rate: while one user's O tokens stream, the other B-1 slots each admit a new request,
  whose prefill steps in between (vLLM's chunked prefill): rate = O / (O x step + (B-1) x prefill).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from apps.capacity.catalog import GPUSpec, ModelSpec

INT4_BITS = 4 + 20 / 128  # AWQ/GPTQ group 128: 4-bit weight + fp16 scale + 4-bit zero / 128
BITS = {"bf16": 16.0, "fp16": 16.0, "fp8": 8.0, "awq": INT4_BITS, "gptq": INT4_BITS}
KV_BYTES = {"bf16": 2, "fp16": 2, "fp8": 1}
ACT_BYTES = 2  # activations travel between GPUs in bf16/fp16
GB = 1e9
GiB = 1024**3


class PlanError(ValueError):
    """Inputs that describe no valid deployment (the message says which; `code` and `params`
    let a page word it in the reader's language)."""

    def __init__(self, message: str, code: str = "", **params: object) -> None:
        super().__init__(message)
        self.code = code
        self.params = params


@dataclass(frozen=True)
class Workload:
    """What the users ask of one tier. `users` sequences decode at once."""

    users: int = 10
    prompt_tokens: int = 3584
    output_tokens: int = 512
    target_tps: float = 100.0
    target_ttft_s: float = 2.0


@dataclass(frozen=True)
class Setup:
    """How the tier is deployed, and the efficiency assumptions."""

    weights: str = "bf16"
    kv_dtype: str = "auto"
    tp: int = 1
    gpus_per_server: int = 8
    gpu_memory_utilization: float = 0.9
    reserve_gib: float = 2.0  # per GPU: activations at max_num_batched_tokens, CUDA graphs
    bandwidth_efficiency: float = 0.8
    step_overhead_ms: float = 1.0  # per decode step: scheduling, sampling, kernel launches
    mfu: float = 0.5
    spare_servers: int = 1  # HA policy: N+1 by default
    server_price: float = 15000.0  # chassis, CPUs, RAM, NICs, without GPUs
    server_power_w: float = 800.0  # the server without its GPUs
    max_num_seqs: int = 256  # vLLM's default cap on sequences per replica
    block_size: int = 16  # vLLM's KV cache block


@dataclass(frozen=True)
class Figure:
    """One output line: value, unit, the formula, and the formula with the numbers put in."""

    key: str
    value: float
    unit: str
    formula: str
    worked: str = ""


@dataclass(frozen=True)
class Step:
    batch: int
    weights_read: float
    kv_read: float
    memory_s: float
    compute_s: float
    comm_s: float
    overhead_s: float = 0.0

    @property
    def seconds(self) -> float:
        return max(self.memory_s, self.compute_s) + self.comm_s + self.overhead_s

    @property
    def bound(self) -> str:
        return "bandwidth" if self.memory_s >= self.compute_s else "compute"


@dataclass
class Plan:
    """The answer for one tier on one GPU type; `figures` is what the page lists."""

    model: str
    gpu: str
    weights_format: str
    tp: int
    users: int
    fits: bool
    weights_bytes: int
    weights_bytes_per_gpu: float
    kv_bytes_per_token: int
    kv_bytes_per_request: int
    kv_capacity_bytes_per_gpu: float
    max_concurrent_sequences: int
    batch_per_replica: int
    step_s: float
    decode_tokens_per_s: float
    per_user_tokens_per_s: float
    total_tokens_per_s: float
    prefill_s: float
    ttft_s: float
    replicas: int
    gpus: int
    servers: int
    spare_servers: int
    power_w: float
    cost: float
    achievable: bool
    limits: list[str]
    bound_at_target: str
    figures: list[Figure] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


# --- building blocks -------------------------------------------------------------------------


def fp16_params(model: ModelSpec) -> int:
    """Parameters that stay 16-bit in a quantized checkpoint: embeddings, lm_head, router,
    norms ((2 x layers + 1) x hidden)."""
    embed = model.vocab_size * model.hidden_size
    lm_head = 0 if model.tie_word_embeddings else embed
    router = model.num_hidden_layers * model.hidden_size * model.num_experts
    norms = (2 * model.num_hidden_layers + 1) * model.hidden_size
    return embed + lm_head + router + norms


def weight_bytes(model: ModelSpec, fmt: str) -> int:
    if fmt not in BITS:
        raise PlanError(f"unknown weight format {fmt!r}; known: {', '.join(BITS)}")
    if BITS[fmt] == 16:
        return model.params_total * 2
    keep = min(fp16_params(model), model.params_total)
    return round((model.params_total - keep) * BITS[fmt] / 8 + keep * 2)


def kv_element_bytes(kv_dtype: str, fmt: str) -> int:
    if kv_dtype == "auto":
        # vLLM's "auto" stores the KV cache in the model's activation dtype, never in int4/fp8.
        return 2
    if kv_dtype not in KV_BYTES:
        raise PlanError(f"unknown KV cache dtype {kv_dtype!r}; known: auto, bf16, fp16, fp8")
    return KV_BYTES[kv_dtype]


def kv_bytes_per_token(model: ModelSpec, element_bytes: int) -> int:
    return 2 * model.num_hidden_layers * model.num_key_value_heads * model.head_dim * element_bytes


def kv_heads_per_gpu(model: ModelSpec, tp: int) -> int:
    # With more GPUs than KV heads, vLLM replicates each KV head on TP / kv_heads GPUs.
    return max(1, model.num_key_value_heads // tp)


def expected_experts(num_experts: int, per_token: int, batch: int) -> float:
    """Distinct experts a layer reads for `batch` tokens routed uniformly: E x (1 - (1-k/E)^B)."""
    if num_experts <= 0 or per_token <= 0:
        return 0.0
    return num_experts * (1 - (1 - per_token / num_experts) ** batch)


def _bytes_per_param(fmt: str) -> float:
    return BITS[fmt] / 8


def weights_read(model: ModelSpec, fmt: str, tokens: int) -> float:
    """Weight bytes one forward pass over `tokens` tokens reads (whole replica).

    The input embedding table is only gathered row by row, so it is not read in full (unless it
    doubles as the lm_head)."""
    total = weight_bytes(model, fmt)
    embed = 0 if model.tie_word_embeddings else model.vocab_size * model.hidden_size * 2
    if not model.is_moe:
        return total - embed
    e, k = model.num_experts, model.experts_per_token
    expert_params = (model.params_total - model.params_active) / (e - k)  # one expert, all layers
    expert_bytes = expert_params * _bytes_per_param(fmt)
    shared = total - e * expert_bytes - embed
    return shared + expected_experts(e, k, tokens) * expert_bytes


def tflops_for(gpu: GPUSpec, fmt: str) -> float:
    # FP8 checkpoints run W8A8 on FP8 tensor cores where the GPU has them; elsewhere (A100) and
    # for int4 (W4A16 Marlin kernels) the matrix multiplications run in bf16.
    if fmt == "fp8" and gpu.fp8_tflops > 0:
        return gpu.fp8_tflops
    return gpu.bf16_tflops


def comm_seconds(model: ModelSpec, gpu: GPUSpec, tp: int, tokens: int) -> float:
    if tp <= 1:
        return 0.0
    size = tokens * model.hidden_size * ACT_BYTES * 2 * (tp - 1) / tp
    one = gpu.allreduce_latency_us * 1e-6 + size / (gpu.allreduce_busbw_gbs * GB)
    return 2 * model.num_hidden_layers * one


def decode_step(
    model: ModelSpec, gpu: GPUSpec, setup: Setup, batch: int, avg_context: float
) -> Step:
    tp = setup.tp
    element = kv_element_bytes(setup.kv_dtype, setup.weights)
    w_read = weights_read(model, setup.weights, batch)
    kv_read = batch * avg_context * kv_bytes_per_token(model, element)
    if kv_heads_per_gpu(model, tp) * tp > model.num_key_value_heads:
        kv_read *= kv_heads_per_gpu(model, tp) * tp / model.num_key_value_heads
    bandwidth = tp * gpu.bandwidth_gbs * GB * setup.bandwidth_efficiency
    flops = 2 * model.params_active * batch + 4 * model.num_hidden_layers * batch * avg_context * (
        model.num_attention_heads * model.head_dim
    )
    compute = flops / (tp * tflops_for(gpu, setup.weights) * 1e12 * setup.mfu)
    return Step(
        batch=batch,
        weights_read=w_read,
        kv_read=kv_read,
        memory_s=(w_read + kv_read) / bandwidth,
        compute_s=compute,
        comm_s=comm_seconds(model, gpu, tp, batch),
        overhead_s=setup.step_overhead_ms / 1000,
    )


def prefill(model: ModelSpec, gpu: GPUSpec, setup: Setup, prompt: int) -> tuple[float, str]:
    """Seconds to prefill one prompt on an otherwise idle replica, and what bounds it."""
    flops = 2 * model.params_active * prompt + 2 * model.num_hidden_layers * prompt**2 * (
        model.num_attention_heads * model.head_dim
    )
    compute = flops / (setup.tp * tflops_for(gpu, setup.weights) * 1e12 * setup.mfu)
    memory = weights_read(model, setup.weights, prompt) / (
        setup.tp * gpu.bandwidth_gbs * GB * setup.bandwidth_efficiency
    )
    bound = "compute" if compute >= memory else "bandwidth"
    return max(compute, memory) + comm_seconds(model, gpu, setup.tp, prompt), bound


def per_user_rate(step_s: float, prefill_s: float, batch: int, output: int) -> float:
    return output / (output * step_s + (batch - 1) * prefill_s)


def validate(model: ModelSpec, gpu: GPUSpec, workload: Workload, setup: Setup) -> None:
    if model.kind != "llm":
        raise PlanError(f"{model.name} is an embedding model: it has no decode to plan")
    if setup.tp < 1 or setup.tp & (setup.tp - 1):
        raise PlanError("tensor-parallel size must be 1, 2, 4 or 8")
    if model.num_attention_heads % setup.tp:
        raise PlanError(
            f"tensor-parallel size {setup.tp} does not divide the model's "
            f"{model.num_attention_heads} attention heads",
            "tp_heads",
            tp=setup.tp,
            heads=model.num_attention_heads,
        )
    if setup.tp > setup.gpus_per_server:
        raise PlanError(
            "tensor-parallel size larger than GPUs per server is not supported", "tp_server"
        )
    if workload.users < 1 or workload.prompt_tokens < 1 or workload.output_tokens < 1:
        raise PlanError("users, prompt and output tokens must be at least 1")
    if workload.target_tps <= 0 or workload.target_ttft_s <= 0:
        raise PlanError("targets must be positive")
    if not 0.1 <= setup.gpu_memory_utilization <= 1:
        raise PlanError("GPU memory utilisation must be between 0.1 and 1")
    if not 0 < setup.bandwidth_efficiency <= 1 or not 0 < setup.mfu <= 1:
        raise PlanError("efficiency factors must be between 0 and 1")
    if setup.spare_servers < 0 or setup.reserve_gib < 0:
        raise PlanError("spare servers and reserve cannot be negative")
    weight_bytes(model, setup.weights)
    kv_element_bytes(setup.kv_dtype, setup.weights)


# --- one replica ------------------------------------------------------------------------------


class Replica:
    """Memory and speed of one replica (TP GPUs) of a model, for a workload."""

    def __init__(self, model: ModelSpec, gpu: GPUSpec, workload: Workload, setup: Setup):
        validate(model, gpu, workload, setup)
        self.model, self.gpu, self.workload, self.setup = model, gpu, workload, setup
        tp = setup.tp
        self.element = kv_element_bytes(setup.kv_dtype, setup.weights)
        self.weights = weight_bytes(model, setup.weights)
        self.weights_per_gpu = self.weights / tp
        self.kv_token = kv_bytes_per_token(model, self.element)
        self.kv_token_gpu = (
            2 * model.num_hidden_layers * kv_heads_per_gpu(model, tp) * model.head_dim
        ) * self.element
        context = workload.prompt_tokens + workload.output_tokens
        self.blocks = math.ceil(context / setup.block_size) * setup.block_size
        self.kv_request = self.blocks * self.kv_token
        self.usable = gpu.memory_bytes * setup.gpu_memory_utilization - setup.reserve_gib * GiB
        self.kv_space = self.usable - self.weights_per_gpu
        self.fits = self.kv_space > 0
        self.max_seqs = (
            min(int(self.kv_space // (self.blocks * self.kv_token_gpu)), setup.max_num_seqs)
            if self.fits
            else 0
        )
        self.avg_ctx = workload.prompt_tokens + workload.output_tokens / 2
        self.prefill_s, self.prefill_bound = prefill(model, gpu, setup, workload.prompt_tokens)

    def step(self, batch: int) -> Step:
        return decode_step(self.model, self.gpu, self.setup, batch, self.avg_ctx)

    def rate(self, batch: int) -> float:
        return per_user_rate(
            self.step(batch).seconds, self.prefill_s, batch, self.workload.output_tokens
        )

    def ttft(self, batch: int) -> float:
        return self.prefill_s + self.step(batch).seconds

    def meets(self, batch: int) -> bool:
        w = self.workload
        return self.rate(batch) >= w.target_tps and self.ttft(batch) <= w.target_ttft_s

    def best_batch(self) -> int:
        """Largest sequences per replica meeting both targets (both fall as the batch grows)."""
        best, lo, hi = 0, 1, min(self.max_seqs, self.workload.users)
        while lo <= hi:
            mid = (lo + hi) // 2
            if self.meets(mid):
                best, lo = mid, mid + 1
            else:
                hi = mid - 1
        return best

    def limit_at(self, batch: int) -> list[str]:
        """What makes `batch` sequences per replica miss the targets."""
        w = self.workload
        if not self.fits or self.max_seqs < 1:
            return ["memory"]
        if batch > self.max_seqs:
            return ["memory"]
        limits: list[str] = []
        if self.rate(batch) < w.target_tps:
            # The rate broke: by the other requests' prefills, or by the decode step itself.
            prefill_part = (batch - 1) * self.prefill_s
            decode_part = w.output_tokens * self.step(batch).seconds
            limits.append(self.prefill_bound if prefill_part > decode_part else "")
            if not limits[-1]:
                limits[-1] = self.step(batch).bound
        if self.ttft(batch) > w.target_ttft_s and self.prefill_bound not in limits:
            limits.append(self.prefill_bound)
        return limits
