#!/bin/sh
# Prints the current settings (kept in state.json) and the metrics this app reports.
set -eu
state=$(cat state.json 2>/dev/null || echo '{"cpu": 1, "replicas": 2}')
cpu=$(echo "$state" | sed -n 's/.*"cpu": *\([0-9.]*\).*/\1/p')
replicas=$(echo "$state" | sed -n 's/.*"replicas": *\([0-9]*\).*/\1/p')
cat <<JSON
{"application": {"components": {"main": {"settings": {
   "cpu": {"type": "range", "unit": "cores", "min": 0.25, "max": 4, "step": 0.25, "value": $cpu},
   "replicas": {"type": "range", "min": 1, "max": 8, "step": 1, "value": $replicas}}}}},
 "measurement": {"metrics": {"throughput": {"unit": "rpm"}, "latency_p99": {"unit": "ms"}}}}
JSON
