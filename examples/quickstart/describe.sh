#!/usr/bin/env bash
# The exec connector's describe command: prints the component "nginx" with its six settings,
# their ranges or values, and their current values (from settings.json in the state directory,
# which start.sh and adjust.sh write). It reads nothing from nginx itself, so it works whether
# nginx runs or not. The metrics come from the wrk connector.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

cat >/dev/null # the request, {"control": {...}}: nothing in it matters here

fail()
{
    jq -cn --arg reason "$1" --arg message "$2" '{status: "failed", reason: $reason,
        message: $message}'
    exit 1
}

current=$(current_json) || fail state-unreadable "cannot read $settings_file"
jq -c --argjson space "$space_json" '
    . as $values
    | {application: {components: {nginx: {settings: (
        $space | with_entries(.value += {value: $values[.key]}))}}}}' <<<"$current" ||
    fail state-unreadable "$settings_file is not a JSON object of the settings"
