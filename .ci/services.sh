#!/usr/bin/env bash
# The services the store and queue tests use, on a machine that may have none of them (a bare Debian 12
# or Ubuntu 24.04 root): called by .ci/run, in two steps.
#   install   install PostgreSQL, Redis and RabbitMQ from the distribution's packages when missing, and
#             let the tests' PostgreSQL login (postgres@127.0.0.1, no password: a throw-away test
#             server) in; starting them stays in .ci/run.
#   database  once PostgreSQL answers: create the tests' database 'test' if it is missing.
# Fails loudly (set -e, a message naming the missing piece).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

need() { printf '.ci/services.sh: %s\n' "$*" >&2; exit 1; }

install() {
  command -v apt-get >/dev/null || need "no apt-get: install PostgreSQL, Redis and RabbitMQ yourself"
  local missing=()
  command -v pg_ctlcluster >/dev/null && ls /etc/postgresql/*/main >/dev/null 2>&1 || missing+=(postgresql)
  command -v redis-server >/dev/null || missing+=(redis-server)
  command -v rabbitmq-server >/dev/null || missing+=(rabbitmq-server)
  command -v psql >/dev/null || missing+=(postgresql-client)
  if [ ${#missing[@]} -gt 0 ]; then
    printf '\n== apt-get install %s\n' "${missing[*]}"
    # an offline machine may still have the packages in its cache: the install below is what must work
    apt-get update -qq || echo ".ci/services.sh: apt-get update failed; trying the package cache" >&2
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
  local clusters
  clusters=$(ls /etc/postgresql 2>/dev/null | head -1)
  [ -n "$clusters" ] || need "postgresql is installed but has no cluster in /etc/postgresql"
  if [ ! -d "/etc/postgresql/$clusters/main" ]; then
    pg_createcluster "$clusters" main
  fi
  local hba="/etc/postgresql/$clusters/main/pg_hba.conf"
  if ! grep -Eq '^host[[:space:]]+all[[:space:]]+postgres[[:space:]]+127\.0\.0\.1/32[[:space:]]+trust' "$hba" \
     && ! grep -Eq '^host[[:space:]]+all[[:space:]]+all[[:space:]]+127\.0\.0\.1/32[[:space:]]+trust' "$hba"; then
    printf '\n== %s: trust postgres@127.0.0.1 (the tests log in without a password)\n' "$hba"
    { echo "host all postgres 127.0.0.1/32 trust"; cat "$hba"; } > "$hba.new" && mv "$hba.new" "$hba"
    chown postgres:postgres "$hba"
    # a running server re-reads it; a stopped one reads it when .ci/run starts it
    pg_ctlcluster "$clusters" main reload >/dev/null 2>&1 || true
  fi
}

database() {
  if ! psql -h 127.0.0.1 -U postgres -d postgres -Atc "SELECT 1 FROM pg_database WHERE datname = 'test'" \
       | grep -q 1; then
    printf '\n== createdb test\n'
    psql -h 127.0.0.1 -U postgres -d postgres -c "CREATE DATABASE test" >/dev/null
  fi
  psql -h 127.0.0.1 -U postgres -d test -Atc "SELECT 1" >/dev/null || need "cannot log in to postgres@127.0.0.1/test"
  echo "postgresql: database test ready"
}

case "${1:-}" in
  install) install ;;
  database) database ;;
  *) need "usage: .ci/services.sh install|database" ;;
esac
