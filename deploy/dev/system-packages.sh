#!/usr/bin/env bash
# Install the Debian packages Opsdesk needs on a development or CI machine, once.
set -euo pipefail
need=()
for pkg in git nodejs libldap2-dev libsasl2-dev slapd ldap-utils chromium gettext haproxy nginx-light libnginx-mod-stream prometheus prometheus-alertmanager acl mueller7-dict; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
# npm installs the OpenID Connect provider the sign-on tests start (deploy/dev/oidc.sh); a
# Node.js built elsewhere may bring its own npm, Debian's nodejs does not.
command -v npm >/dev/null || need+=(npm)
if ((${#need[@]})); then
  echo "Installing Debian packages: ${need[*]}"
  sudo_cmd=""; [[ $(id -u) -eq 0 ]] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# Scenario checkers run as an unprivileged user (apps/scenarios/engine/runner.py). When the
# portal runs as root with its environments under a private home (/root is 0700), that user
# needs to pass through the home directory to reach the portal's own tools (ansible-lint,
# gixy): grant it traversal only (no listing), by ACL, and only to that one user.
if [[ $(id -u) -eq 0 ]]; then
  tool_user="${SCENARIO_TOOL_USER:-nobody}"
  cache="${OPSDESK_CACHE:-$HOME/.cache/opsdesk}"
  mkdir -p "$cache"
  dir="$cache"
  while [[ "$dir" != "/" ]]; do
    if ! setpriv --reuid="$tool_user" --regid=nogroup --clear-groups test -x "$dir" 2>/dev/null; then
      setfacl -m "u:$tool_user:x" "$dir"
    fi
    dir="$(dirname "$dir")"
  done
fi
