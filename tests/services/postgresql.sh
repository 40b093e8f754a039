#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A real PostgreSQL 15 on loopback for the optimizer's store tests (Debian package
# postgresql-15): a private cluster made with initdb in DIR, started with pg_ctl as an
# unprivileged user (PostgreSQL refuses to run as root: the user "postgres" when started by
# root, else the caller), listening on 127.0.0.1:PORT only, password authentication
# (scram-sha-256) for the superuser "servo", nothing written outside DIR.
#
#   tests/services/postgresql.sh start DIR [PORT]  make and start the cluster on a free loopback
#                                                  port (or PORT), wait until it accepts
#                                                  connections, create the database "servo",
#                                                  print its URI; exit 1 when it cannot start
#   tests/services/postgresql.sh env DIR           print the variables the tests read:
#       export SERVO_POSTGRESQL_URI=postgresql://servo@127.0.0.1:PORT/servo
#       export SERVO_POSTGRESQL_PASSWORD_FILE=DIR/password
#   tests/services/postgresql.sh stop DIR          stop it (pg_ctl stop -m fast) and remove DIR
#
# A test that needs it reads SERVO_POSTGRESQL_URI (and the password from
# SERVO_POSTGRESQL_PASSWORD_FILE) and exits 77 (skipped) when it is not set.
set -euo pipefail

usage()
{
    echo "usage: $0 start DIR [PORT] | env DIR | stop DIR" >&2
    exit 2
}

log()
{
    echo "services/postgresql: $*" >&2
}

bindir()
{
    local dir
    for dir in /usr/lib/postgresql/15/bin $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null); do
        if [[ -x $dir/initdb && -x $dir/pg_ctl ]]; then
            echo "$dir"
            return 0
        fi
    done
    return 1
}

# Runs a command as the cluster's owner.
as_owner()
{
    if ((EUID == 0)); then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

free_port()
{
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start()
{
    local dir=$1 port=${2:-} bin
    bin=$(bindir) || {
        log "PostgreSQL is not installed (apt-get install postgresql-15)"
        return 1
    }
    [[ -n $port ]] || port=$(free_port)
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd -P)
    if [[ -e $dir/data ]]; then
        log "$dir/data exists: stop it first"
        return 1
    fi
    ((EUID == 0)) && chown postgres: "$dir"
    chmod 0755 "$dir"
    as_owner bash -c "umask 077; head -c 18 /dev/urandom | base64 | tr -d '+/=' >'$dir/password'"
    ((EUID == 0)) && chmod 0644 "$dir/password"
    if ! as_owner "$bin/initdb" -D "$dir/data" -U servo --pwfile="$dir/password" \
        --auth-local=scram-sha-256 --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 \
        >"$dir/initdb.log" 2>&1; then
        log "initdb failed:"
        cat "$dir/initdb.log" >&2
        return 1
    fi
    if ! as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgresql.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir \
            -c max_connections=200 -c fsync=off" start >"$dir/pg_ctl.log" 2>&1; then
        log "PostgreSQL did not start on 127.0.0.1:$port:"
        cat "$dir/pg_ctl.log" "$dir/postgresql.log" >&2 2>/dev/null || true
        return 1
    fi
    echo "$port" >"$dir/port"
    if ! PGPASSWORD=$(<"$dir/password") "$bin/psql" -q -h 127.0.0.1 -p "$port" -U servo \
        -d postgres -c 'CREATE DATABASE servo' >"$dir/createdb.log" 2>&1; then
        log "cannot create the database:"
        cat "$dir/createdb.log" >&2
        stop "$dir"
        return 1
    fi
    echo "postgresql://servo@127.0.0.1:$port/servo"
}

print_env()
{
    local dir=$1
    dir=$(cd "$dir" && pwd -P)
    [[ -f $dir/port ]] || {
        log "not started in $dir"
        return 1
    }
    echo "export SERVO_POSTGRESQL_URI=postgresql://servo@127.0.0.1:$(<"$dir/port")/servo"
    echo "export SERVO_POSTGRESQL_PASSWORD_FILE=$dir/password"
}

stop()
{
    local dir=$1 bin
    if [[ -d $dir/data ]] && bin=$(bindir); then
        as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
}

(($# >= 2)) || usage
case $1 in
start) start "$2" "${3:-}" ;;
env) print_env "$2" ;;
stop) stop "$2" ;;
*) usage ;;
esac
