#!/bin/sh
# Reads {"metrics": [...], "control": {...}} on stdin, waits SERVO_DURATION seconds with
# progress, and reports one reading per metric computed from the current settings.
set -eu
cat > /dev/null
state=$(cat state.json 2>/dev/null || echo '{"cpu": 1, "replicas": 2}')
cpu=$(echo "$state" | sed -n 's/.*"cpu": *\([0-9.]*\).*/\1/p')
replicas=$(echo "$state" | sed -n 's/.*"replicas": *\([0-9]*\).*/\1/p')
duration=${SERVO_DURATION:-1}
echo "{\"progress\": 50, \"message\": \"measuring for ${duration}s\"}"
sleep "$duration"
now=$(date +%s)
throughput=$(awk -v c="$cpu" -v r="$replicas" 'BEGIN { printf "%.1f", 600 * c * r / (1 + 0.1 * r) }')
latency=$(awk -v c="$cpu" 'BEGIN { printf "%.1f", 20 + 80 / c }')
# the last line is the result: one line of JSON
printf '{"status": "ok", "metrics": {"throughput": {"unit": "rpm", "values": [{"id": "main", '
printf '"data": [[%s, %s]]}]}, "latency_p99": {"unit": "ms", "value": %s}}, ' \
    "$now" "$throughput" "$latency"
printf '"annotations": {"note": "computed from cpu=%s replicas=%s"}}\n' "$cpu" "$replicas"
