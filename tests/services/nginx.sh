#!/usr/bin/env bash
# nginx on loopback for the load-generator tests (wrk, vegeta): a private configuration in a
# state directory, `daemon off`, its own pid file, nothing written outside the directory.
#
#   tests/services/nginx.sh start DIR [PORT]   start on 127.0.0.1:PORT (default 18080), wait
#                                              until it answers, print its URL; exit 1 if it
#                                              cannot start (the port is taken, no nginx)
#   tests/services/nginx.sh stop DIR           stop it (TERM, then KILL after 5 s) by the pid
#                                              in DIR/nginx.pid, and remove DIR
#
# What it serves (as the recorded fixtures in tests/fixtures/ were made):
#   /            a 6-byte file, "hello\n" (200)
#   /status500   500 with the body "boom\n"
set -euo pipefail
PATH=$PATH:/usr/sbin # nginx is in /usr/sbin, which is not on a user's PATH on Debian

usage()
{
    echo "usage: $0 start DIR [PORT] | stop DIR" >&2
    exit 2
}

write_config()
{
    local dir=$1 port=$2
    mkdir -p "$dir/html" "$dir/tmp"
    printf 'hello\n' >"$dir/html/index.html"
    # Started by root, nginx runs its workers as "nobody", who may not reach a directory
    # under a private temporary one: keep them root then (the server listens on loopback).
    local user=""
    ((EUID == 0)) && user="user root;"
    cat >"$dir/nginx.conf" <<CONF
$user
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events {
    worker_connections 1024;
}
http {
    access_log off;
    default_type text/plain;
    client_body_temp_path $dir/tmp/client_body;
    proxy_temp_path $dir/tmp/proxy;
    server {
        listen 127.0.0.1:$port;
        root $dir/html;
        location / {
        }
        location /status500 {
            return 500 "boom\n";
        }
    }
}
CONF
}

# Waits until the server answers on `port`, or nginx has exited.
wait_ready()
{
    local port=$1 pid=$2 i
    for ((i = 0; i < 100; i++)); do
        if curl -sf -o /dev/null "http://127.0.0.1:$port/"; then
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

start()
{
    local dir=$1 port=${2:-18080}
    command -v nginx >/dev/null || {
        echo "nginx.sh: nginx is not installed" >&2
        return 1
    }
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    write_config "$dir" "$port"
    # -e: the error log before the configuration is read (never /var/log/nginx)
    nginx -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf" -g 'daemon off;' \
        </dev/null >>"$dir/nginx.out" 2>&1 &
    local pid=$!
    echo "$pid" >"$dir/master.pid"
    if ! wait_ready "$port" "$pid"; then
        echo "nginx.sh: nginx did not start on 127.0.0.1:$port:" >&2
        cat "$dir/nginx.out" "$dir/error.log" >&2 2>/dev/null || true
        kill "$pid" 2>/dev/null || true
        return 1
    fi
    echo "http://127.0.0.1:$port"
}

stop()
{
    local dir=$1 pid="" i
    [[ -f $dir/nginx.pid ]] && pid=$(<"$dir/nginx.pid")
    [[ -z $pid && -f $dir/master.pid ]] && pid=$(<"$dir/master.pid")
    if [[ -n $pid ]] && kill "$pid" 2>/dev/null; then
        for ((i = 0; i < 50; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -rf "$dir"
}

(($# >= 2)) || usage
case $1 in
start) start "$2" "${3:-}" ;;
stop) stop "$2" ;;
*) usage ;;
esac
