#!/usr/bin/env bash
# The README's command-line optimizer session (examples/exec-session/run.sh): a servo with an
# exec connector against the fake optimizer, ending with SIGTERM; asserts the exact sequence
# of events the servo sent and its exit status.
set -euo pipefail
out=$(timeout 90 "$SERVO_SOURCE_DIR/examples/exec-session/run.sh" "$SERVO_BIN" 2>/dev/null)
expected="HELLO
WHATS_NEXT
DESCRIPTION status ok
WHATS_NEXT
MEASUREMENT progress 50%
MEASUREMENT status ok
WHATS_NEXT
ADJUSTMENT progress 50%
ADJUSTMENT status ok
WHATS_NEXT
GOODBYE reason SIGTERM"
got=$(sed -n '/^what the servo sent:/,$p' <<<"$out" | tail -n +2 | sed 's/^ *//; s/  */ /g; s/ *$//')
if [[ $got != "$expected" ]]; then
    echo "FAIL: the session differs"
    echo "--- expected"; echo "$expected"
    echo "--- got"; echo "$got"
    exit 1
fi
grep -q '^servo exited 0$' <<<"$out" || { echo "FAIL: servo did not exit 0"; exit 1; }
echo "ok: the whole session, then GOODBYE on SIGTERM"
