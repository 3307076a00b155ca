#!/usr/bin/env bash
# Install (from Debian packages) and start the real services the tests use, if they are
# not already running: PostgreSQL, Redis and Chromium (for Playwright). Idempotent.
set -euo pipefail

PG_USER=servicebay
PG_PASSWORD=servicebay
REDIS_PORT=${REDIS_PORT:-6379}
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
APT_UPDATED=""

apt_install() {
    local missing=()
    for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ -z "$APT_UPDATED" ]; then $SUDO apt-get update -qq; APT_UPDATED=1; fi
    echo "services: installing ${missing[*]} (Debian packages)"
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
}

ensure_postgres() {
    apt_install postgresql
    local version
    version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
    if ! pg_lsclusters -h | awk '{print $1" "$2}' | grep -qx "$version main"; then
        $SUDO pg_createcluster "$version" main >/dev/null
    fi
    if ! pg_lsclusters -h | awk -v v="$version" '$1==v && $2=="main" {print $4}' | grep -q online; then
        $SUDO pg_ctlcluster "$version" main start
    fi
    run_sql() { if [ -n "$SUDO" ]; then $SUDO -u postgres psql -qtAX -c "$1"; else su postgres -s /bin/sh -c "psql -qtAX -c \"$1\""; fi; }
    for _ in $(seq 1 30); do run_sql "SELECT 1" >/dev/null 2>&1 && break; sleep 0.5; done
    if [ "$(run_sql "SELECT 1 FROM pg_roles WHERE rolname='$PG_USER'")" != 1 ]; then
        run_sql "CREATE ROLE $PG_USER LOGIN SUPERUSER PASSWORD '$PG_PASSWORD'" >/dev/null
    fi
    if [ "$(run_sql "SELECT 1 FROM pg_database WHERE datname='$PG_USER'")" != 1 ]; then
        run_sql "CREATE DATABASE $PG_USER OWNER $PG_USER" >/dev/null
    fi
    # Tests do not need durability: make them faster.
    if [ "$(run_sql "SHOW fsync")" = on ]; then
        run_sql "ALTER SYSTEM SET fsync = off" >/dev/null
        run_sql "ALTER SYSTEM SET synchronous_commit = off" >/dev/null
        run_sql "ALTER SYSTEM SET full_page_writes = off" >/dev/null
        run_sql "SELECT pg_reload_conf()" >/dev/null
    fi
    echo "services: PostgreSQL $version ready on 127.0.0.1:5432"
}

ensure_redis() {
    apt_install redis-server
    if ! redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
        redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no >/dev/null
        for _ in $(seq 1 30); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.2; done
    fi
    echo "services: Redis ready on 127.0.0.1:$REDIS_PORT"
}

ensure_chromium() {
    apt_install chromium
    echo "services: $(/usr/bin/chromium --version 2>/dev/null | head -n 1)"
}

case "${1:-all}" in
    postgres) ensure_postgres ;;
    redis) ensure_redis ;;
    chromium) ensure_chromium ;;
    all) ensure_postgres; ensure_redis; ensure_chromium ;;
    *) echo "usage: $0 [all|postgres|redis|chromium]" >&2; exit 2 ;;
esac
