#!/usr/bin/env bash
# Install the Debian packages Opsdesk needs on a development or CI machine, once.
set -euo pipefail
need=()
for pkg in libldap2-dev libsasl2-dev slapd ldap-utils chromium gettext haproxy nginx-light prometheus; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if ((${#need[@]})); then
  echo "Installing Debian packages: ${need[*]}"
  sudo_cmd=""; [[ $(id -u) -eq 0 ]] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
