#!/usr/bin/env bash
# Stops the quickstart's private nginx (TERM to the master in nginx.pid, KILL after 5 s). Does
# nothing when it is not running. The state directory stays (the studies are in it).
#
#   examples/quickstart/stop.sh
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

pid=$(master_pid)
if [[ -z $pid ]]; then
    echo "stop.sh: nginx is not running"
    exit 0
fi
stop_nginx
echo "stop.sh: nginx stopped (pid $pid)"
