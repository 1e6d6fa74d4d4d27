"""Honest answers from the dev model: how many answers the echo guard cuts, and whether any
answer shows the prompt's scaffolding, on the portal exactly as `make run` starts it.

Starts deploy/dev/run.sh (the `make run` set: SQLite, in-memory channel layer, embedded
Qdrant, the demo knowledge base, the dev vLLM gemma-3-270m marked as a base and development
model) on a fresh directory and a free port, signs in with the admin password it prints, and
asks every question of bench/eval/echo_questions.txt (Russian and English) twice: in the chat
(a new conversation each, over the websocket, as the page does) and as the search page's
answer (its Server-Sent Events). What a reader was shown is the streamed text; it must never
contain the rules or a source delimiter. The verdicts come from the stored rows (chat
messages, LLM calls) of the portal's SQLite file.

    .venv/bin/python bench/answer_echoes.py            # prints a table and a JSON summary
    .venv/bin/python bench/answer_echoes.py --var /tmp/x --keep   # reuse a directory
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import websockets

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = ROOT / "bench/eval/echo_questions.txt"
# What must never reach a reader: the rules' wording and the delimiters (prompting.SCAFFOLD).
SHOWN_SCAFFOLD = re.compile(
    r"You are Opsdesk|Answer ONLY from|Cite every statement|<<<\s*(END\s+)?SOURCE|<<<DATA",
    re.IGNORECASE,
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(var: Path) -> tuple[subprocess.Popen[bytes], str, str]:
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/root"),
        "LANG": "C.UTF-8",
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "OPSDESK_VAR": str(var),
    }
    log = var.parent / f"{var.name}-run.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            ["bash", str(ROOT / "deploy/dev/run.sh")],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 900
    password = ""
    while time.monotonic() < deadline:
        found = re.search(r"First admin created: admin / (\S+)", log.read_text(errors="replace"))
        password = password or (found.group(1) if found else "")
        try:
            if password and httpx.get(f"{base}/healthz", timeout=2).is_success:
                return process, base, password
        except httpx.HTTPError:
            pass
        if process.poll() is not None:
            sys.exit(f"`make run` stopped; see {log}")
        time.sleep(1)
    sys.exit(f"the portal did not start; see {log}")


def sign_in(base: str, password: str) -> httpx.Client:
    web = httpx.Client(
        base_url=base, timeout=300, headers={"Accept-Language": "en"}, follow_redirects=True
    )
    web.get("/accounts/login/")
    token = web.cookies["csrftoken"]
    answer = web.post(
        "/accounts/login/",
        data={"username": "admin", "password": password, "csrfmiddlewaretoken": token},
        headers={"Referer": f"{base}/accounts/login/"},
    )
    if "/accounts/login/" in str(answer.url):
        sys.exit("the printed admin password was refused")
    return web


def search_answer(web: httpx.Client, question: str) -> dict[str, Any]:
    shown, end = "", {}
    with web.stream("GET", "/search/answer/", params={"q": question}) as response:
        for line in response.iter_lines():
            if not line.startswith("data: "):
                continue
            event = json.loads(line[6:])
            if event["type"] == "token":
                shown += event["text"]
            elif event["type"] in ("end", "error", "no_answer"):
                end = event
    return {"shown": shown, "type": end.get("type", ""), "echo": end.get("echo", "")}


async def chat_answer(web: httpx.Client, base: str, question: str) -> dict[str, Any]:
    token = web.cookies["csrftoken"]
    made = web.post(
        "/chat/new/",
        data={"text": question, "knowledge": "on", "csrfmiddlewaretoken": token},
        headers={"Accept": "application/json", "Referer": f"{base}/chat/"},
    )
    conversation = int(re.search(r"/chat/(\d+)/", made.text or str(made.url)).group(1))  # type: ignore[union-attr]
    cookies = "; ".join(f"{k}={v}" for k, v in web.cookies.items())
    url = base.replace("http", "ws", 1) + f"/ws/chat/{conversation}/"
    shown, done = "", {}
    async with websockets.connect(
        url, additional_headers={"Cookie": cookies, "Origin": base}, max_size=None
    ) as ws:
        await ws.send(json.dumps({"type": "send", "text": question, "knowledge": True}))
        while True:
            frame = json.loads(await asyncio.wait_for(ws.recv(), 600))
            if frame["type"] == "delta":
                shown += frame["text"]
            elif frame["type"] == "catchup":
                shown = frame["text"]
            elif frame["type"] in ("done", "error"):
                done = frame
                break
    return {"shown": shown, "conversation": conversation, "status": done.get("status", "")}


def asked_again_counts(base: str) -> dict[str, int]:
    """The portal's own count of answers withheld and asked again, by path (its /metrics)."""
    from prometheus_client.parser import text_string_to_metric_families

    counts: Counter[str] = Counter()
    for family in text_string_to_metric_families(httpx.get(f"{base}/metrics").text):
        for sample in family.samples:
            verdict = sample.labels.get("verdict", "")
            if sample.name == "opsdesk_llm_guarded_answers_total" and "asked again" in verdict:
                counts[f"{sample.labels['purpose']}:{verdict}"] += int(sample.value)
    return dict(counts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--var", type=Path, help="the portal's directory (default: a new one)")
    parser.add_argument("--keep", action="store_true", help="keep the portal's directory")
    args = parser.parse_args()
    questions = [q for q in QUESTIONS.read_text().splitlines() if q.strip()]
    var = args.var or Path(tempfile.mkdtemp(prefix="opsdesk-echo-")) / "var"
    var.mkdir(parents=True, exist_ok=True)
    process, base, password = start(var)
    rows: list[dict[str, Any]] = []
    try:
        web = sign_in(base, password)
        for n, question in enumerate(questions, 1):
            t0 = time.monotonic()
            chat = asyncio.run(chat_answer(web, base, question))
            search = search_answer(web, question)
            rows.append({"question": question, "chat": chat, "search": search})
            # Two answers per question under the per-user limit of answers a minute
            # (LLM_USER_REQUESTS_PER_MINUTE, 20 by default): no faster than one per 6.5 s.
            time.sleep(max(0.0, 6.5 - (time.monotonic() - t0)))
            print(
                f"{n:2d} {time.monotonic() - t0:5.1f}s chat={chat['status']} "
                f"search={search['type']}/{search['echo'] or 'ok'}  {question}",
                flush=True,
            )
        asked_again = asked_again_counts(base)
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(30)
    db = sqlite3.connect(var / "opsdesk.sqlite3")
    verdicts: dict[str, Counter[str]] = {"chat": Counter(), "search": Counter()}
    for row in rows:
        stored = db.execute(
            "SELECT echo, content, development, model FROM chat_message "
            "WHERE conversation_id = ? AND role = 'assistant'",
            (row["chat"]["conversation"],),
        ).fetchone()
        row["chat"]["echo"] = stored[0] if stored else "missing"
        row["chat"]["development"] = bool(stored and stored[2])
        verdicts["chat"][row["chat"]["echo"] or "ok"] += 1
        if row["search"]["type"] == "end":
            verdicts["search"][row["search"]["echo"] or "ok"] += 1
        else:
            verdicts["search"][row["search"]["type"]] += 1
    calls = dict(
        db.execute(
            "SELECT purpose || ':' || (CASE echo WHEN '' THEN 'ok' ELSE echo END), count(*) "
            "FROM inference_llmcall WHERE purpose IN ('chat', 'search') GROUP BY 1"
        ).fetchall()
    )
    shown_scaffold = [
        (kind, row["question"])
        for row in rows
        for kind in ("chat", "search")
        if SHOWN_SCAFFOLD.search(row[kind]["shown"])
    ]
    answered = {
        k: sum(v for key, v in c.items() if key in ("ok", "cut", "withheld", "empty"))
        for k, c in verdicts.items()
    }
    summary = {
        "questions": len(rows),
        "russian": sum(bool(re.search("[а-яё]", r["question"], re.I)) for r in rows),
        "verdicts": {k: dict(v) for k, v in verdicts.items()},
        "llm_calls": calls,
        "cut_share": {
            k: round((c["cut"] + c["withheld"] + c["empty"]) / answered[k], 3)
            if answered[k]
            else None
            for k, c in verdicts.items()
        },
        # Answers nobody saw (withheld or empty) after which the model was asked once more;
        # the verdicts above are those of the answers the readers got.
        "asked_again": asked_again,
        "answers_showing_scaffold": len(shown_scaffold),
        "showing_scaffold": shown_scaffold,
        "chat_footer_says_development": sum(r["chat"]["development"] for r in rows),
    }
    (var.parent / "answer_echoes.json").write_text(json.dumps(rows, ensure_ascii=False, indent=1))
    print(json.dumps(summary, ensure_ascii=False, indent=1))
    if not args.keep and not args.var:
        subprocess.run(["rm", "-rf", str(var.parent)], check=False)


if __name__ == "__main__":
    main()
