#!/usr/bin/env bash
# Starts the quickstart's private nginx at the baseline settings: its own prefix under the state
# directory, `daemon off` in the background (in a session of its own), its pid in nginx.pid.
# Returns once the page answers. An nginx this script started earlier is stopped first.
#
#   examples/quickstart/start.sh            at the baseline (settings.json is reset)
#   QUICKSTART_DIR=/tmp/qs QUICKSTART_PORT=18091 examples/quickstart/start.sh
# A study resumed after an interruption needs nothing more: the optimizer sends the
# interrupted trial's ADJUST again before its MEASURE.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if (($# > 0)); then
    echo "usage: $0 (no arguments; QUICKSTART_DIR and QUICKSTART_PORT in the environment)" >&2
    exit 2
fi

for tool in nginx jq curl setsid; do
    if ! command -v "$tool" >/dev/null; then
        echo "start.sh: $tool is not installed (scripts/install-deps.sh installs it)" >&2
        exit 1
    fi
done

if [[ -n $(master_pid) ]]; then
    echo "start.sh: stopping the nginx started earlier (pid $(master_pid))"
    stop_nginx
fi
if answers; then
    echo "start.sh: something else answers on $url already; choose another port with" \
        "QUICKSTART_PORT" >&2
    exit 1
fi

mkdir -p "$prefix/html" "$prefix/tmp"
make_page >"$prefix/html/index.html"
baseline_json >"$settings_file"
render_config "$(current_json)" "$prefix/nginx.conf"
if ! nginx_test "$prefix/nginx.conf"; then
    echo "start.sh: nginx refuses $prefix/nginx.conf (see above)" >&2
    exit 1
fi

rm -f "$pid_file"
# -e: the error log from the start, before the configuration is read (never /var/log/nginx)
setsid nginx -p "$prefix/" -e "$prefix/error.log" -c "$prefix/nginx.conf" -g 'daemon off;' \
    </dev/null >>"$prefix/nginx.out" 2>&1 &
started=$!
for ((i = 0; i < 100; i++)); do
    [[ -s $pid_file ]] && break
    kill -0 "$started" 2>/dev/null || break
    sleep 0.1
done
pid=$(master_pid)
workers=$(jq -r '.worker_processes' "$settings_file")
if [[ -z $pid ]] || ! wait_settled "$pid" "$workers" 10; then
    echo "start.sh: nginx did not start on $url:" >&2
    tail -n 20 "$prefix/nginx.out" "$prefix/error.log" >&2 2>/dev/null || true
    kill -TERM "$started" 2>/dev/null || true
    exit 1
fi
echo "start.sh: nginx serves $url (pid $pid, $(wc -c <"$prefix/html/index.html") bytes," \
    "state in $QUICKSTART_DIR)"
echo "start.sh: settings $(jq -r 'to_entries | map("\(.key)=\(.value)") | join(" ")' \
    "$settings_file")"
