#!/usr/bin/env bash
# The exec connector's adjust command: reads the adjustment on stdin,
#   {"application": {"components": {"nginx": {"settings": {"gzip": {"value": "off"}, ...}}}},
#    "control": {...}},
# merges the values into the current ones (settings.json: a partial adjustment keeps the other
# settings), renders nginx.conf from nginx.conf.template, checks it with `nginx -t`, reloads
# nginx (HUP to the master) and waits until the new workers alone serve the page.
#
# Results, as the exec protocol reads them (the last line of stdout):
#   {"status": "ok", "state": ...}                                      applied
#   {"status": "rejected", "reason": "invalid-configuration", ...}      nginx -t refused it
#   {"status": "failed", "reason": "not-running" | "reload-failed" | ...}
# Progress lines ({"progress": N, "message": ...}) come before it.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

result()
{
    local status=$1 reason=$2 message=$3
    jq -cn --arg status "$status" --arg reason "$reason" --arg message "$message" \
        '{status: $status, reason: $reason, message: $message}'
    exit 1
}

request=$(cat)
if ! requested=$(jq -ce '.application.components.nginx.settings // {} | map_values(.value)' \
    <<<"$request" 2>/dev/null); then
    result failed bad-request "the adjustment is not the JSON the exec connector sends"
fi

pid=$(master_pid)
[[ -n $pid ]] || result failed not-running \
    "nginx is not running (no live master in $pid_file): start it with examples/quickstart/start.sh"

values=$(jq -c --argjson new "$requested" '. + $new' <<<"$(current_json)")
jq -c '{progress: 10, message: ("rendering nginx.conf: " +
    (to_entries | map("\(.key)=\(.value)") | join(" ")))}' <<<"$requested"

candidate=$prefix/nginx.conf.new
trap 'rm -f "$candidate"' EXIT
if ! errors=$(render_config "$values" "$candidate" 2>&1); then
    result rejected invalid-configuration "cannot render nginx.conf: $errors"
fi
if ! errors=$(nginx_test "$candidate" 2>&1); then
    result rejected invalid-configuration "nginx -t refused the configuration: $errors"
fi

mv "$candidate" "$prefix/nginx.conf"
printf '%s\n' "$values" >"$settings_file"
echo '{"progress": 40, "message": "reloading nginx"}'
kill -HUP "$pid" 2>/dev/null || result failed not-running "nginx (pid $pid) is gone"
workers=$(jq -r '.worker_processes | floor' <<<"$values")
if ! wait_settled "$pid" "$workers" 15; then
    result failed reload-failed "nginx did not settle on the new configuration within 15 s:
$(tail -n 5 "$prefix/error.log" 2>/dev/null)"
fi
jq -c '{status: "ok", state: {application: {components: {nginx: {settings:
    map_values({value: .})}}}}}' <<<"$values"
