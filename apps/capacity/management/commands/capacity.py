"""`manage.py capacity plan|models|gpus`: the planner from the command line.

    manage.py capacity plan --model mixtral-8x7b --weights awq --gpu l40s --tp 2 --users 10 \
        --prompt-tokens 3584 --output-tokens 512 --target-tps 100 --json
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.capacity import catalog
from apps.capacity.formulas import human
from apps.capacity.planner import plan
from apps.capacity.replica import PlanError, Setup, Workload


def _positive_int(raw: str) -> int:
    import argparse

    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {raw!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _positive_float(raw: str) -> float:
    import argparse

    try:
        value = float(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {raw!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {raw}")
    return value


class Command(BaseCommand):
    help = "Size a vLLM deployment from first principles (see docs/capacity.md)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        p = sub.add_parser("plan", help="plan one model tier on one GPU type")
        p.add_argument("--model", help=f"catalog model: {', '.join(_llm_keys())}")
        p.add_argument("--model-json", help="a custom model as a JSON object in a file")
        p.add_argument("--weights", required=True, choices=catalog.WEIGHT_FORMATS)
        p.add_argument("--gpu", required=True, help=f"catalog GPU: {', '.join(catalog.GPUS)}")
        p.add_argument("--gpu-price", type=_positive_float, help="override the GPU unit price")
        p.add_argument("--tp", type=_positive_int, default=1, help="tensor-parallel size")
        p.add_argument("--users", type=_positive_int, default=10, help="sequences decoding at once")
        p.add_argument("--prompt-tokens", type=_positive_int, default=3584)
        p.add_argument("--output-tokens", type=_positive_int, default=512)
        p.add_argument("--target-tps", type=_positive_float, default=100.0)
        p.add_argument("--target-ttft", type=_positive_float, default=2.0, help="seconds")
        p.add_argument("--kv-dtype", default="auto", choices=catalog.KV_DTYPES)
        p.add_argument("--gpus-per-server", type=_positive_int, default=8)
        p.add_argument("--spares", type=int, default=1, help="spare servers (1 = N+1)")
        p.add_argument("--gpu-memory-utilization", type=_positive_float, default=0.9)
        p.add_argument("--json", action="store_true", help="print one JSON object")
        sub.add_parser("models", help="list catalog models")
        sub.add_parser("gpus", help="list catalog GPUs")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "models":
            for m in catalog.MODELS.values():
                self.stdout.write(f"{m.key:18} {m.name:34} {m.kind:9} {m.source}")
            return
        if action == "gpus":
            for g in catalog.GPUS.values():
                self.stdout.write(
                    f"{g.key:14} {g.name:26} {g.memory_gb:>4g} GB {g.bandwidth_gbs:>5g} GB/s "
                    f"{g.bf16_tflops:>6g} TFLOPS bf16  {g.power_w:>4g} W  ${g.price:,.0f}"
                )
            return
        self._plan(options)

    def _plan(self, o: dict[str, Any]) -> None:
        model = _load_model(o["model"], o["model_json"])
        try:
            gpu = catalog.with_price(catalog.gpu(o["gpu"]), o["gpu_price"])
            workload = Workload(
                users=o["users"],
                prompt_tokens=o["prompt_tokens"],
                output_tokens=o["output_tokens"],
                target_tps=o["target_tps"],
                target_ttft_s=o["target_ttft"],
            )
            setup = Setup(
                weights=o["weights"],
                kv_dtype=o["kv_dtype"],
                tp=o["tp"],
                gpus_per_server=o["gpus_per_server"],
                spare_servers=o["spares"],
                gpu_memory_utilization=o["gpu_memory_utilization"],
            )
            result = plan(model, gpu, workload, setup)
        except (catalog.CatalogError, PlanError) as exc:
            raise CommandError(str(exc)) from None
        if o["json"]:
            self.stdout.write(json.dumps(result.as_dict(), indent=2, ensure_ascii=False))
            return
        verdict = "achievable" if result.achievable else "NOT achievable"
        self.stdout.write(
            f"{result.model} {result.weights_format} on {result.gpu} (TP {result.tp}), "
            f"{result.users} users: {verdict}"
            + (f"; limited by {', '.join(result.limits)}" if result.limits else "")
        )
        for f in result.figures:
            self.stdout.write(
                f"  {f.key:28} {human(f.value, f.unit)}\n      = {f.formula}\n      = {f.worked}"
            )


def _llm_keys() -> list[str]:
    return [m.key for m in catalog.llm_models()]


def _load_model(name: str | None, path: str | None) -> catalog.ModelSpec:
    if name and path:
        raise CommandError("give either --model or --model-json, not both")
    if path:
        try:
            data = json.loads(Path(path).read_text())
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc.strerror or exc}") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise CommandError(f"{path} is not valid JSON: {exc}") from None
        try:
            return catalog.custom_model(data, name=Path(path).stem)
        except catalog.CatalogError as exc:
            raise CommandError(f"{path}: {exc}") from None
    if not name:
        raise CommandError("give --model NAME or --model-json FILE")
    try:
        model = catalog.model(name)
    except catalog.CatalogError as exc:
        raise CommandError(str(exc)) from None
    if model.kind != "llm":
        raise CommandError(f"{name} is an embedding model; plan one of: {', '.join(_llm_keys())}")
    return model
