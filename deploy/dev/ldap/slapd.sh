#!/usr/bin/env bash
# A throwaway OpenLDAP server with the seeded test directory (deploy/dev/ldap/seed.ldif).
# Runs from its own config and data directory, independent of any system slapd.
#   deploy/dev/ldap/slapd.sh start|stop     (LDAP_TEST_PORT, default 3389)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
port="${LDAP_TEST_PORT:-3389}"
dir="${OPSDESK_VAR:-$here/../../../var}/slapd-$port"
pidfile="$dir/slapd.pid"

stop() {
  if [[ -f "$pidfile" ]]; then kill "$(cat "$pidfile")" 2>/dev/null || true; sleep 0.5; fi
  rm -rf "$dir"
}

start() {
  if ! command -v slapd >/dev/null && [[ ! -x /usr/sbin/slapd ]]; then
    echo "slapd is not installed: apt-get install -y slapd ldap-utils" >&2; exit 1
  fi
  stop  # always start from the seed: tests expect a known directory
  mkdir -p "$dir/data"
  cat > "$dir/slapd.conf" <<CONF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile $pidfile
database mdb
maxsize 10485760
suffix "dc=opsdesk,dc=test"
rootdn "cn=admin,dc=opsdesk,dc=test"
rootpw admin-secret
directory $dir/data
access to attrs=userPassword by self read by anonymous auth by * none
access to * by * read
CONF
  /usr/sbin/slapadd -f "$dir/slapd.conf" -l "$here/seed.ldif" -q
  /usr/sbin/slapd -f "$dir/slapd.conf" -h "ldap://127.0.0.1:$port/"
  for _ in $(seq 50); do
    if ldapsearch -x -H "ldap://127.0.0.1:$port" -b dc=opsdesk,dc=test -s base >/dev/null 2>&1; then
      echo "slapd ready on 127.0.0.1:$port"; return 0
    fi
    sleep 0.1
  done
  echo "slapd did not start" >&2; exit 1
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
