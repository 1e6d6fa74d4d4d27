"""A synthetic OpenAI-compatible token source for benchmarks (never a runtime default).

It answers /v1/chat/completions (streaming and not), /v1/models, /health and a minimal
/metrics, emitting numbered tokens " w0 w1 w2 ..." on a fixed schedule: the first after
--first-token seconds, then one every 1/--rate seconds (scheduled on absolute times, so a
slow moment does not lower the rate). Numbered tokens let a benchmark check that every token
arrived once and in order.

    python bench/token_source.py --port 8011 --rate 100 --first-token 0.02
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

MODEL = "synthetic"
STATE = {"running": 0, "tokens": 0, "requests": 0}
CONFIG = {"rate": 100.0, "first_token": 0.02, "max_tokens": 200}


def token(i: int) -> str:
    return f" w{i}"


def expected_text(n: int) -> str:
    """What a complete answer of n tokens reads (for the benchmark's order check)."""
    return "".join(token(i) for i in range(n))


async def _body(receive: Any) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _send_json(send: Any, status: int, payload: Any) -> None:
    body = json.dumps(payload).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _chunk(rid: str, created: int, delta: dict[str, Any], finish: str | None) -> bytes:
    data = {
        "id": rid,
        "object": "chat.completion.chunk",
        "created": created,
        "model": MODEL,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return b"data: " + json.dumps(data, separators=(",", ":")).encode() + b"\n\n"


async def _completions(receive: Any, send: Any) -> None:
    request = json.loads(await _body(receive) or b"{}")
    n = min(int(request.get("max_tokens") or CONFIG["max_tokens"]), int(CONFIG["max_tokens"]))
    rid = f"chatcmpl-{STATE['requests']}"
    STATE["requests"] += 1
    created = int(time.time())
    t0 = time.perf_counter()
    first, step = float(CONFIG["first_token"]), 1.0 / float(CONFIG["rate"])
    STATE["running"] += 1
    gone: asyncio.Future[Any] | None = None
    try:
        if not request.get("stream"):
            await asyncio.sleep(first + step * (n - 1))
            STATE["tokens"] += n
            await _send_json(
                send,
                200,
                {
                    "id": rid,
                    "object": "chat.completion",
                    "created": created,
                    "model": MODEL,
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": expected_text(n)},
                            "finish_reason": "length",
                        }
                    ],
                    "usage": {"prompt_tokens": 10, "completion_tokens": n, "total_tokens": n + 10},
                },
            )
            return
        headers = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        gone = asyncio.ensure_future(receive())  # http.disconnect when the client goes away
        for i in range(n):
            if gone.done():
                return  # stop generating, as vLLM aborts a request whose client left
            delay = t0 + first + i * step - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            delta: dict[str, Any] = {"content": token(i)}
            if i == 0:
                delta["role"] = "assistant"
            finish = "length" if i == n - 1 else None
            await send(
                {
                    "type": "http.response.body",
                    "body": _chunk(rid, created, delta, finish),
                    "more_body": True,
                }
            )
            STATE["tokens"] += 1
        usage = {
            "id": rid,
            "object": "chat.completion.chunk",
            "created": created,
            "model": MODEL,
            "choices": [],
            "usage": {"prompt_tokens": 10, "completion_tokens": n, "total_tokens": n + 10},
        }
        tail = b"data: " + json.dumps(usage).encode() + b"\n\ndata: [DONE]\n\n"
        await send({"type": "http.response.body", "body": tail, "more_body": False})
    except OSError:
        pass  # the client went away: stop generating, as vLLM does
    finally:
        STATE["running"] -= 1
        if gone is not None:
            gone.cancel()


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    path, method = scope["path"], scope["method"]
    if path == "/v1/chat/completions" and method == "POST":
        await _completions(receive, send)
    elif path == "/v1/models":
        await _send_json(send, 200, {"object": "list", "data": [{"id": MODEL, "object": "model"}]})
    elif path == "/health":
        await _send_json(send, 200, {})
    elif path == "/metrics":
        text = (
            f'vllm:num_requests_running{{model_name="{MODEL}"}} {STATE["running"]}\n'
            f'vllm:num_requests_waiting{{model_name="{MODEL}"}} 0\n'
            f'vllm:kv_cache_usage_perc{{model_name="{MODEL}"}} 0\n'
            f'vllm:generation_tokens_total{{model_name="{MODEL}"}} {STATE["tokens"]}\n'
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/plain")],
            }
        )
        await send({"type": "http.response.body", "body": text})
    else:
        await _send_json(send, 404, {"error": "not found"})


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8011)
    parser.add_argument("--rate", type=float, default=100.0, help="tokens per second per stream")
    parser.add_argument("--first-token", type=float, default=0.02, help="seconds to first token")
    parser.add_argument("--max-tokens", type=int, default=200, help="tokens per answer at most")
    args = parser.parse_args()
    CONFIG.update(rate=args.rate, first_token=args.first_token, max_tokens=args.max_tokens)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
