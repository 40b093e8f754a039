# Shared by the quickstart's scripts (sourced, not run): where things live, the settings, and
# the private nginx's configuration and process.
#
# Environment:
#   QUICKSTART_DIR    the state directory (default: build/quickstart in the source tree). It
#                     holds nginx/ (nginx's prefix: nginx.conf, the page, the pid file, the
#                     logs), settings.json (the current values) and studies/ (the stores).
#   QUICKSTART_PORT   the port nginx listens on, on 127.0.0.1 (default 18090)
# shellcheck shell=bash
PATH=$PATH:/usr/sbin # nginx is in /usr/sbin, which is not on a user's PATH on Debian

quickstart_home=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
QUICKSTART_DIR=${QUICKSTART_DIR:-$quickstart_home/../../build/quickstart}
QUICKSTART_PORT=${QUICKSTART_PORT:-18090}
mkdir -p "$QUICKSTART_DIR"
QUICKSTART_DIR=$(cd "$QUICKSTART_DIR" && pwd)

prefix=$QUICKSTART_DIR/nginx
settings_file=$QUICKSTART_DIR/settings.json
pid_file=$prefix/nginx.pid
url=http://127.0.0.1:$QUICKSTART_PORT/

# The settings the optimizer tunes (component "nginx"): the space, and the baseline, which is
# what Debian 12's stock /etc/nginx/nginx.conf gives: worker_processes auto (the number of
# cores, at most 4 here), worker_connections 768, keepalive_timeout not set (nginx's default,
# 75 s), gzip on at nginx's default level 1, sendfile on.
# shellcheck disable=SC2034 # used by describe.sh
space_json='{
  "worker_processes":   {"type": "range", "min": 1, "max": 4, "step": 1},
  "worker_connections": {"type": "range", "min": 64, "max": 2048, "step": 64},
  "keepalive_timeout":  {"type": "range", "min": 0, "max": 75, "step": 5, "unit": "s"},
  "gzip":               {"type": "enum", "values": ["on", "off"]},
  "gzip_comp_level":    {"type": "range", "min": 1, "max": 9, "step": 1},
  "sendfile":           {"type": "enum", "values": ["on", "off"]}
}'

baseline_json()
{
    local cores
    cores=$(nproc 2>/dev/null || echo 1)
    ((cores > 4)) && cores=4
    ((cores < 1)) && cores=1
    jq -n --argjson workers "$cores" '{worker_processes: $workers, worker_connections: 768,
        keepalive_timeout: 75, gzip: "on", gzip_comp_level: 1, sendfile: "on"}'
}

# The current values: settings.json, or the baseline when there is none yet.
current_json()
{
    if [[ -s $settings_file ]]; then
        cat "$settings_file"
    else
        baseline_json
    fi
}

# render_config VALUES_JSON OUT: writes nginx.conf from the template with these values.
render_config()
{
    local values=$1 out=$2 user=""
    # Started by root, nginx runs its workers as "nobody", who may not reach the state
    # directory (a private temporary one in the tests): keep them root then (the server
    # listens on loopback only).
    ((EUID == 0)) && user="user root;"
    local -a args=(-e "s|@USER@|$user|" -e "s|@PREFIX@|$prefix|g" -e "s|@PORT@|$QUICKSTART_PORT|")
    local name value
    for name in worker_processes worker_connections keepalive_timeout gzip gzip_comp_level \
        sendfile; do
        value=$(jq -r --arg n "$name" '.[$n] // empty' <<<"$values")
        if [[ ! $value =~ ^[A-Za-z0-9.]+$ ]]; then
            echo "no valid value for $name: '$value'" >&2
            return 1
        fi
        # worker_processes arrives as 2 or 2.0 depending on who wrote it: whole numbers only
        [[ $value =~ ^[0-9]+\.0+$ ]] && value=${value%%.*}
        args+=(-e "s|@${name^^}@|$value|g")
    done
    sed "${args[@]}" "$quickstart_home/nginx.conf.template" >"$out"
}

# nginx_test CONF: `nginx -t` on a configuration file, quietly; its complaints on stderr.
nginx_test()
{
    nginx -q -t -p "$prefix/" -e "$prefix/error.log" -c "$1"
}

# The pid of the running master, or nothing.
master_pid()
{
    local pid
    [[ -s $pid_file ]] || return 0
    pid=$(<"$pid_file")
    [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
    return 0
}

answers()
{
    curl -s -f -o /dev/null --max-time 2 "$url"
}

# wait_settled PID WORKERS SECONDS: until the master has exactly WORKERS workers, none of them
# an old one still finishing its requests, and the page answers.
wait_settled()
{
    local pid=$1 want=$2 tenths=$(($3 * 10)) i child title children count old
    for ((i = 0; i < tenths; i++)); do
        kill -0 "$pid" 2>/dev/null || return 1
        count=$want old=0
        # Without /proc/PID/task/PID/children (an old kernel), only the answer counts.
        if [[ -r /proc/$pid/task/$pid/children ]]; then
            count=0
            children=$(<"/proc/$pid/task/$pid/children")
        else
            children=""
        fi
        for child in $children; do
            title=$(tr '\0' ' ' <"/proc/$child/cmdline" 2>/dev/null || true)
            case $title in
            *"worker process is shutting down"*) old=$((old + 1)) ;;
            *"worker process"*) count=$((count + 1)) ;;
            esac
        done
        if ((count == want && old == 0)) && answers; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

# stop_nginx: TERM to the master (fast shutdown), KILL after 5 s.
stop_nginx()
{
    local pid i
    pid=$(master_pid)
    [[ -n $pid ]] || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
}

# The page: a product catalog in HTML, 143 KB, as compressible as real markup (5.5:1 at gzip
# level 1, 7:1 at level 6). The same bytes every time: the "random" fields come from a
# Park-Miller generator.
make_page()
{
    awk 'function next_random() { seed = (seed * 16807) % 2147483647; return seed }
    function pick(n) { return 1 + next_random() % n }
    BEGIN {
        seed = 20261128
        split("red green blue black white silver gold", color, " ")
        split("small medium large extra-large", size, " ")
        split("kitchen garden office outdoor sports toys books music", category, " ")
        print "<!DOCTYPE html>"
        print "<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Catalog</title>"
        print "<style>table{border-collapse:collapse}td,th{padding:2px 6px}</style></head><body>"
        print "<h1>Catalog</h1><p>The page the servo quickstart serves under load.</p>"
        print "<table><thead><tr><th>id</th><th>sku</th><th>name</th><th>category</th>" \
              "<th>price</th><th>stock</th><th>description</th></tr></thead><tbody>"
        for (i = 1; i <= 700; i++) {
            c = color[pick(7)]; s = size[pick(4)]; k = category[pick(8)]
            printf "<tr class=\"item %s\"><td>%d</td><td>SKU-%06d</td><td>%s %s item %d</td>", \
                k, i, (i * 7919) % 1000000, c, s, i
            printf "<td>%s</td><td>%d.%02d</td><td>%d</td>", k, pick(200), pick(100) - 1, pick(1000)
            printf "<td>The %s %s product for %s, number %d in the catalog.</td></tr>\n", \
                s, c, k, i
        }
        print "</tbody></table></body></html>"
    }'
}
