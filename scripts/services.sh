#!/usr/bin/env bash
# Install (from Debian packages) and start the real services the tests use, if they are
# not already running: PostgreSQL, Redis, Chromium (for Playwright) and RabbitMQ (behind the
# example OSB broker in brokers/). Idempotent.
set -euo pipefail

PG_USER=servicebay
PG_PASSWORD=servicebay
REDIS_PORT=${REDIS_PORT:-6379}
RABBITMQ_USER=servicebay
RABBITMQ_PASSWORD=servicebay
RABBITMQ_AMQP_PORT=${RABBITMQ_AMQP_PORT:-5672}
RABBITMQ_MGMT_PORT=${RABBITMQ_MGMT_PORT:-15672}
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

ensure_rabbitmq() {
    apt_install rabbitmq-server curl
    # The management plugin's HTTP API is what brokers/rabbitmq.py drives (fast, no Erlang cookie).
    # Everything listens on loopback only: AMQP, the management API, epmd and Erlang distribution.
    local api="http://127.0.0.1:$RABBITMQ_MGMT_PORT/api/overview"
    if curl -fsS -m 5 -u "$RABBITMQ_USER:$RABBITMQ_PASSWORD" "$api" >/dev/null 2>&1; then
        echo "services: RabbitMQ ready on 127.0.0.1:$RABBITMQ_AMQP_PORT (management API on 127.0.0.1:$RABBITMQ_MGMT_PORT)"
        return 0
    fi
    export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT=$RABBITMQ_AMQP_PORT ERL_EPMD_ADDRESS=127.0.0.1
    export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-rabbitmq_management tcp_config [{ip,\"127.0.0.1\"},{port,$RABBITMQ_MGMT_PORT}] -kernel inet_dist_use_interface {127,0,0,1}"
    if ! rabbitmq-diagnostics -q ping >/dev/null 2>&1; then
        rabbitmq-plugins --offline -q enable rabbitmq_management >/dev/null
        if [ -n "$SUDO" ]; then
            $SUDO --preserve-env=RABBITMQ_NODE_IP_ADDRESS,RABBITMQ_NODE_PORT,ERL_EPMD_ADDRESS,RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS \
                rabbitmq-server -detached >/dev/null
        else
            rabbitmq-server -detached >/dev/null
        fi
        for _ in $(seq 1 60); do rabbitmq-diagnostics -q ping >/dev/null 2>&1 && break; sleep 1; done
    fi
    rabbitmqctl -q await_startup --timeout 60 >/dev/null
    if ! rabbitmqctl -q list_users | awk '{print $1}' | grep -qx "$RABBITMQ_USER"; then
        rabbitmqctl -q add_user "$RABBITMQ_USER" "$RABBITMQ_PASSWORD" >/dev/null
    fi
    rabbitmqctl -q set_user_tags "$RABBITMQ_USER" administrator >/dev/null
    rabbitmqctl -q set_permissions -p / "$RABBITMQ_USER" ".*" ".*" ".*" >/dev/null
    rabbitmq-plugins -q enable rabbitmq_management >/dev/null
    for _ in $(seq 1 60); do
        curl -fsS -m 5 -u "$RABBITMQ_USER:$RABBITMQ_PASSWORD" "$api" >/dev/null 2>&1 && break
        sleep 0.5
    done
    curl -fsS -m 5 -u "$RABBITMQ_USER:$RABBITMQ_PASSWORD" "$api" >/dev/null
    echo "services: RabbitMQ ready on 127.0.0.1:$RABBITMQ_AMQP_PORT (management API on 127.0.0.1:$RABBITMQ_MGMT_PORT)"
}

case "${1:-all}" in
    postgres) ensure_postgres ;;
    redis) ensure_redis ;;
    chromium) ensure_chromium ;;
    rabbitmq) ensure_rabbitmq ;;
    all) ensure_postgres; ensure_redis; ensure_chromium; ensure_rabbitmq ;;
    *) echo "usage: $0 [all|postgres|redis|chromium|rabbitmq]" >&2; exit 2 ;;
esac
