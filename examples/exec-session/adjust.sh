#!/bin/sh
# Receives the new values as SERVO_MAIN_CPU / SERVO_MAIN_REPLICAS (and as JSON on stdin),
# "applies" them by saving state.json, reports progress, then prints the result line.
set -eu
cat > /dev/null
echo '{"progress": 50, "message": "rolling out"}'
sleep 1
printf '{"cpu": %s, "replicas": %s}\n' "$SERVO_MAIN_CPU" "$SERVO_MAIN_REPLICAS" > state.json
echo '{"status": "ok"}'
