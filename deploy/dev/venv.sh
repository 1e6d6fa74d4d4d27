#!/usr/bin/env bash
# Build the portal's virtualenv once per dependency set and link it as .venv.
#
# The venv lives outside the checkout, under ${OPSDESK_CACHE:-~/.cache/opsdesk}/venv-<hash of
# pyproject.toml>, so a fresh clone on a warm machine (CI, a second checkout) reuses it in a
# second, and a changed pyproject.toml builds a new one beside the old.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cache="${OPSDESK_CACHE:-$HOME/.cache/opsdesk}"
# Only the dependency lists count: editing lint settings must not rebuild a 6 GB venv.
deps="$(python3 -c 'import json, sys, tomllib; p = tomllib.load(open(sys.argv[1], "rb"))["project"]; print(json.dumps([p["requires-python"], p["dependencies"], p["optional-dependencies"]]))' "$root/pyproject.toml")"
hash="$( (echo "$deps"; cat "$0") | sha256sum | cut -c1-16)"
venv="$cache/venv-$hash"

find_python() {
  # Django 6 needs Python 3.12+; pyenv shims exist for versions that are not active, so
  # run each candidate rather than trusting `command -v`.
  local c
  for c in python3.13 python3.12 /root/.pyenv/versions/3.13*/bin/python /root/.pyenv/versions/3.12*/bin/python python3; do
    if "$c" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
      echo "$c"; return 0
    fi
  done
  echo "Python 3.12 or newer is required (Django 6)" >&2; return 1
}

mkdir -p "$cache"
exec 9>"$cache/venv.lock"
flock 9
if [[ ! -f "$venv/.complete" ]]; then
  # A venv cannot be moved after creation (absolute paths in scripts), so it is built in
  # place and only counts once .complete exists; a half-built one is wiped and redone.
  rm -rf "$venv"
  py="$(find_python)"
  echo "Building the portal environment in $venv (first time only, a few minutes)"
  "$py" -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
  (cd "$root" && "$venv/bin/pip" install -q -e ".[dev]")
  touch "$venv/.complete"
fi
if [[ "$(readlink "$root/.venv" 2>/dev/null)" != "$venv" ]]; then
  rm -rf "$root/.venv"
  ln -s "$venv" "$root/.venv"
fi
