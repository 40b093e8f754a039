#!/usr/bin/env bash
# `servo report`: an embedded study is run (exec connector, a deterministic measure), then
#   - the report is one self-contained HTML page: inline CSS and SVG charts (the objective per
#     trial, one per setting, one per constraint), the trials table, nothing fetched, no script;
#   - headless Chromium renders it and the screenshot is not blank (decoded with a few lines of
#     Python over zlib: many colours, and the blue of the feasible trials' points among them);
#   - the store is found from servo.yaml, --store or a server's -c file; a study without trials
#     gives a page that says so; no store is a clear error.
#
# Environment (set by ctest): SERVO_BIN. Needs jq, python3 and chromium.
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_tools jq python3 chromium
scratch_dir servo-report
clean_env
export SERVO_PLUGIN_PATH= NO_COLOR=1

fail_logs=(servo.stdout servo.stderr chromium.log)
fail_tail=30
lacks() { ! grep -qiF -- "$2" "$1"; } # case-insensitive here
count() { grep -o -- "$2" "$1" | wc -l | tr -d ' '; }

# ---- a study to report on -------------------------------------------------------------------

cat >describe <<'EOF'
#!/bin/sh
read -r cpu replicas mode <state
cat <<JSON
{"application":{"components":{"main":{"settings":{
 "cpu":{"type":"range","unit":"cores","min":0.5,"max":4,"step":0.25,"value":$cpu},
 "replicas":{"type":"range","min":1,"max":8,"step":1,"value":$replicas},
 "mode":{"type":"enum","values":["fast","safe"],"value":"$mode"}}}}},
 "measurement":{"metrics":{"throughput":{"unit":"rps"},"latency":{"unit":"ms"}}}}
JSON
EOF
cat >adjust <<'EOF'
#!/bin/sh
jq -r '.application.components.main.settings | "\(.cpu.value) \(.replicas.value) \(.mode.value)"' >state
echo '{"status":"ok"}'
EOF
cat >measure <<'EOF'
#!/bin/sh
cat >/dev/null
read -r cpu replicas mode <state
awk -v c="$cpu" -v r="$replicas" -v m="$mode" 'BEGIN {
    f = m == "fast" ? 1.15 : 1
    t = f * (100 * c * sqrt(r) - 12 * c * c * r)
    l = 400 / (c * r) * (m == "fast" ? 1.3 : 1)
    printf "{\"status\":\"ok\",\"metrics\":{\"throughput\":{\"unit\":\"rps\",\"value\":%.6f},", t
    printf "\"latency\":{\"unit\":\"ms\",\"value\":%.6f}}}\n", l
}'
EOF
chmod +x describe adjust measure
echo "1 2 safe" >state
cat >servo.yaml <<'EOF'
optimizer:
  local:
    objective: {metric: throughput, goal: maximize}
    constraints:
      - {metric: latency, keep: below, threshold: 120}
    budget: 10
    seed: 2
    store: results.db
    measure: {duration: 0s}
exec:
  describe: ./describe
  measure: ./measure
  adjust: ./adjust
EOF

scenario="the study"
timeout 120 "$SERVO_BIN" run >servo.stdout 2>servo.stderr || fail "servo run failed"
check contains servo.stdout "Optimization complete"

# ---- the page -------------------------------------------------------------------------------

scenario="report"
"$SERVO_BIN" report -o report.html >servo.stdout 2>servo.stderr || fail "servo report failed"
check contains servo.stderr "Wrote report.html"
check contains report.html "<!DOCTYPE html>"
check contains report.html "Optimization report: servo"
check contains report.html "<style>"
check equals "$(count report.html '<svg ')" 5 # the objective, 3 settings, 1 constraint
check contains report.html "throughput per trial (higher is better)"
check contains report.html "latency (mean) per trial: keep below the threshold"
check contains report.html 'class="best"'     # the best-so-far line
check contains report.html 'class="baseline"' # the baseline line
check contains report.html "threshold 120 (keep below)"
check equals "$(count report.html '<tr class=')" 11 # the trials table
check lacks report.html "<script"
check lacks report.html "<img"
check lacks report.html "<link"
check lacks report.html "url("
# nothing is fetched: the only URL is the SVG namespace
check equals "$(grep -o 'https\?://[^"]*' report.html | sort -u)" "http://www.w3.org/2000/svg"

"$SERVO_BIN" report --store results.db --app servo -o other.html 2>/dev/null
check equals "$(sed 's/Written<\/dt><dd>[^<]*//' other.html | md5sum)" \
    "$(sed 's/Written<\/dt><dd>[^<]*//' report.html | md5sum)"
"$SERVO_BIN" report --store results.db -o - >stdout.html 2>/dev/null
check contains stdout.html "</html>"

# ---- in Chromium ----------------------------------------------------------------------------

scenario="screenshot"
profile=$(mktemp -d "$scratch/chromium-XXXXXX")
timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$profile" --screenshot="$scratch/out.png" --window-size=1200,900 \
    "file://$scratch/report.html" >chromium.log 2>&1 || fail "chromium failed"
check test -s out.png
cat >png_stats.py <<'EOF'
"""Prints the number of distinct colours of a PNG and how many pixels are near a colour."""
import struct
import sys
import zlib

def decode(path):
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    assert depth == 8 and colour in (2, 6), "unexpected PNG format"
    channels = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * channels
    rows, prev = [], bytearray(stride)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b = prev[i]
            c = prev[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + a) & 255
            elif kind == 2:
                line[i] = (line[i] + b) & 255
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(line)
        prev = line
    return width, height, channels, rows

width, height, channels, rows = decode(sys.argv[1])
target = tuple(int(sys.argv[2][i:i + 2], 16) for i in (0, 2, 4))
colours, near = set(), 0
for line in rows:
    for x in range(0, width * channels, channels):
        rgb = tuple(line[x:x + 3])
        colours.add(rgb)
        if sum(abs(rgb[i] - target[i]) for i in range(3)) < 40:
            near += 1
print(width, height, len(colours), near)
EOF
read -r width height colours blue < <(python3 png_stats.py out.png 2f6fdb)
check equals "$width" 1200
check equals "$height" 900
check test "$colours" -gt 50 # text, lines, points: far from a blank page
check test "$blue" -gt 100   # the feasible trials' points were drawn

# ---- where the store comes from -------------------------------------------------------------

scenario="stores"
cat >optimizer.yaml <<'EOF'
store: results.db
applications:
  org/app: {objective: {metric: x, goal: minimize}}
EOF
"$SERVO_BIN" report -c optimizer.yaml --app servo -o from-server.html 2>/dev/null
check contains from-server.html "Optimization report: servo"
set +e
"$SERVO_BIN" report --store nothing.db -o x.html 2>err.txt
rc=$?
set -e
check equals "$rc" 1
check contains err.txt "nothing.db"
set +e
"$SERVO_BIN" report --store results.db --app nobody/else -o x.html 2>err.txt
rc=$?
set -e
check equals "$rc" 1
check contains err.txt 'no study of "nobody/else"'

# a study that never got to a trial
cat >flat <<'EOF'
#!/bin/sh
echo '{"application":{"components":{"main":{"settings":{"cpu":{"type":"range","min":1,"max":1,"step":0,"value":1}}}}}}'
EOF
chmod +x flat
sed -i 's|describe: ./describe|describe: ./flat|; s|store: results.db|store: flat.db|' servo.yaml
timeout 60 "$SERVO_BIN" run >/dev/null 2>&1 || true
"$SERVO_BIN" report -o flat.html 2>/dev/null
check contains flat.html "No trials yet."
check contains flat.html "invalid description: no tunable settings"

passed
