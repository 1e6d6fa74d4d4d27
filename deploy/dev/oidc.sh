#!/usr/bin/env bash
# node-oidc-provider for the single sign-on tests, installed once per lock file.
#
#   deploy/dev/oidc.sh build   `npm ci` into ${OPSDESK_CACHE:-~/.cache/opsdesk}/oidc-provider-<hash>
#                              and link it as deploy/dev/oidc/node_modules
#
# The tests (apps/accounts/tests/oidc_provider.py) start deploy/dev/oidc/provider.mjs on a
# loopback port with their own clients and users; nothing here keeps running.
# Keyed like the portal's venv: a warm machine links the cached copy in a moment, an edited
# package-lock.json builds a new copy beside the old one.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/oidc"
cache="${OPSDESK_CACHE:-$HOME/.cache/opsdesk}"
command -v npm >/dev/null || { echo "node and npm are needed for the sign-on tests (apt-get install nodejs npm)" >&2; exit 1; }
hash="$( (cat "$here/package-lock.json"; cat "$0") | sha256sum | cut -c1-16)"
target="$cache/oidc-provider-$hash"

mkdir -p "$cache"
exec 9>"$cache/oidc-provider.lock"
flock 9
if [[ ! -f "$target/.complete" ]]; then
  # Built in a temporary directory and renamed into place only when complete.
  tmp="$cache/.tmp-oidc-provider-$hash"
  rm -rf "$tmp" && mkdir -p "$tmp"
  cp "$here/package.json" "$here/package-lock.json" "$tmp/"
  (cd "$tmp" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
  touch "$tmp/.complete"
  rm -rf "$target" && mv "$tmp" "$target"
fi
if [[ "$(readlink "$here/node_modules" 2>/dev/null)" != "$target/node_modules" ]]; then
  rm -rf "$here/node_modules"
  ln -s "$target/node_modules" "$here/node_modules"
fi
