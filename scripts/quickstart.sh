#!/usr/bin/env bash
# The main job: installs the Debian packages, builds the servo, starts a private nginx on
# 127.0.0.1:18090 and lets `servo run` tune it under wrk load with the embedded optimizer
# (examples/quickstart/). At the end it prints the best settings against the baseline, writes
# an HTML report, and stops nginx. About two minutes on 2 cores once the servo is built.
#
#   scripts/quickstart.sh            a new study (its own store file)
#   scripts/quickstart.sh --resume   go on with the latest study (after an interruption)
#
# Ctrl-C stops the running trial; the servo shuts down cleanly and nginx is stopped (exit 130).
#
# Environment:
#   SERVO_BUILD_DIR=build       where to build the servo
#   SERVO_JOBS=2                parallel build jobs
#   SERVO_SKIP_DEPS=1           do not run scripts/install-deps.sh
#   SERVO_BIN=PATH              use this servo binary: no package installation, no build
#   QUICKSTART_DIR=build/quickstart   the state directory: nginx's prefix, studies/ (the stores,
#                               summaries, logs and reports of every run)
#   QUICKSTART_PORT=18090       nginx's port on 127.0.0.1
#   QUICKSTART_KEEP=1           leave nginx running at the best settings
#   SERVO_OPTIMIZER_LOCAL_*     the servo's own overrides of optimizer.local, e.g.
#                               SERVO_OPTIMIZER_LOCAL_BUDGET=6, ..._MEASURE_DURATION=10s, and
#                               ..._STORE=FILE (resumes FILE when it holds a study)
set -euo pipefail
PATH=$PATH:/usr/sbin # nginx is in /usr/sbin, which is not on a user's PATH on Debian

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
example=examples/quickstart

usage()
{
    sed -n '2,/^set -euo pipefail$/p' "$0" | sed '$d; s/^# \{0,1\}//'
}

resume=0
for arg in "$@"; do
    case $arg in
    --resume) resume=1 ;;
    -h | --help)
        usage
        exit 0
        ;;
    *)
        echo "quickstart: unknown argument '$arg'" >&2
        usage >&2
        exit 2
        ;;
    esac
done

started_at=$(date +%s)
step()
{
    printf '\n\033[1m==> %s\033[0m\n' "$*"
}

# ---- set-up: packages and the build -------------------------------------------------------

if [[ -n ${SERVO_BIN:-} ]]; then
    servo=$(cd "$(dirname "$SERVO_BIN")" && pwd)/$(basename "$SERVO_BIN")
    [[ -x $servo ]] || {
        echo "quickstart: SERVO_BIN=$SERVO_BIN is not an executable" >&2
        exit 1
    }
else
    if [[ ${SERVO_SKIP_DEPS:-0} != 1 ]]; then
        step "installing the Debian packages (scripts/packages.txt)"
        scripts/install-deps.sh
    fi
    dir=${SERVO_BUILD_DIR:-build}
    step "building the servo in $dir/"
    if [[ ! -f $dir/CMakeCache.txt ]]; then
        cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    fi
    cmake --build "$dir" -j "${SERVO_JOBS:-2}" --target servo
    servo=$root/$dir/servo
fi
for tool in nginx wrk jq curl; do
    command -v "$tool" >/dev/null || {
        echo "quickstart: $tool is not installed (scripts/install-deps.sh installs it)" >&2
        exit 1
    }
done

# ---- the state: where nginx lives, and a store for this run ------------------------------

export QUICKSTART_DIR=${QUICKSTART_DIR:-$root/build/quickstart}
export QUICKSTART_PORT=${QUICKSTART_PORT:-18090}
mkdir -p "$QUICKSTART_DIR/studies"
QUICKSTART_DIR=$(cd "$QUICKSTART_DIR" && pwd)
studies=$QUICKSTART_DIR/studies
# One quickstart per state directory: a second one would restart the first one's nginx.
exec {lock_fd}>"$QUICKSTART_DIR/.lock"
if ! flock -n "$lock_fd"; then
    echo "quickstart: another quickstart is running with $QUICKSTART_DIR; wait for it, or" \
        "give this one another QUICKSTART_DIR and QUICKSTART_PORT" >&2
    exit 1
fi
# wrk's url follows the port (servo.yaml says 18090)
export SERVO_WRK_URL=http://127.0.0.1:$QUICKSTART_PORT/

if [[ -n ${SERVO_OPTIMIZER_LOCAL_STORE:-} ]]; then
    store=$SERVO_OPTIMIZER_LOCAL_STORE
elif ((resume)); then
    store=$(find "$studies" -maxdepth 1 -name 'study-*.db' -type f | sort | tail -n 1)
    if [[ -z $store ]]; then
        echo "quickstart: --resume: no study in $studies to resume" >&2
        exit 1
    fi
else
    # A fresh study each run: the name sorts by time, and never repeats within a second.
    store=$studies/study-$(date +%Y%m%d-%H%M%S).db
    while [[ -e $store ]]; do
        sleep 1
        store=$studies/study-$(date +%Y%m%d-%H%M%S).db
    done
fi
export SERVO_OPTIMIZER_LOCAL_STORE=$store
run_name=$(basename "$store" .db)
log=$studies/$run_name.log
summary=$studies/$run_name.summary.txt
report=$studies/$run_name.html

# ---- nginx, stopped whatever happens -------------------------------------------------------

cleanup()
{
    local status=$?
    if [[ ${QUICKSTART_KEEP:-0} == 1 ]]; then
        echo "quickstart: nginx keeps running on $SERVO_WRK_URL (stop it with $example/stop.sh)"
    else
        "$example/stop.sh" >/dev/null 2>&1 || true
    fi
    exit "$status"
}
trap cleanup EXIT

step "starting a private nginx on 127.0.0.1:$QUICKSTART_PORT (state in $QUICKSTART_DIR)"
# (nginx must not inherit the lock, or it would hold it after this script ends)
# (at the baseline, also for --resume: the optimizer adjusts an interrupted trial again)
"$example/start.sh" {lock_fd}>&-

# ---- the optimization ------------------------------------------------------------------------

if [[ -s $store ]]; then
    step "resuming the study in $store"
else
    step "optimizing: the baseline, then $("$servo" -c "$example/servo.yaml" config -f json |
        jq -r '.optimizer.local.budget') trials (store $store)"
fi
echo "\$ $servo -c $example/servo.yaml run"
# The servo runs in a session of its own, and this script passes each signal on to it exactly
# once: Ctrl-C (SIGINT), SIGTERM or SIGHUP stops the running trial, and the servo shuts down
# cleanly with the summary so far. (Without this, Ctrl-C would reach it twice, from the
# terminal and from here, and a second signal makes the servo exit at once.)
# Its log lines go to the terminal and to the log; its summary, printed at the end, to a file.
exec {log_fd}> >(
    trap '' INT TERM HUP # it ends when the servo's stderr closes, after the last line
    exec tee -a "$log" >&2
)
log_tee=$!
setsid -w "$servo" -c "$example/servo.yaml" run </dev/null >"$summary" 2>&"$log_fd" &
servo_pid=$!
trap 'kill -INT "$servo_pid" 2>/dev/null || true' INT
trap 'kill -TERM "$servo_pid" 2>/dev/null || true' TERM HUP
# wait returns early when a signal arrives; the servo is still shutting down then
while kill -0 "$servo_pid" 2>/dev/null; do
    wait "$servo_pid" || true
done
status=0
wait "$servo_pid" || status=$?
trap - INT TERM HUP
exec {log_fd}>&-
wait "$log_tee" 2>/dev/null || true
cat "$summary"

if ((status != 0)); then
    echo
    echo "quickstart: servo run failed (exit $status); its log is $log" >&2
    exit 1
fi
phase=$("$servo" optimizer history --store "$store" -f json 2>/dev/null | jq -r '.phase') || true
if [[ $phase != "done" ]]; then
    echo
    echo "quickstart: the study stopped before its end (${phase:-unknown phase}); go on with:" \
        "scripts/quickstart.sh --resume"
    exit 130
fi

"$servo" report --store "$store" -o "$report" >/dev/null 2>&1 || report=""
elapsed=$(($(date +%s) - started_at))
step "done in $((elapsed / 60))m$((elapsed % 60))s"
echo "the summary above is in $summary"
echo "the study:   $servo optimizer history --store $store"
[[ -n $report ]] && echo "a report:    $report (charts of every trial)"
echo "again:       scripts/quickstart.sh (a new study; --resume goes on with this one)"
