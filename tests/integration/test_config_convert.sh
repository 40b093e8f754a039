#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Legacy Opsani servo configurations: `servo config convert` on every file of
# tests/fixtures/legacy (the result validates, its fields are the legacy ones mapped, what has
# no equivalent is listed on stderr and as comments), its failures (a YAML syntax error with
# file:line:col, nothing to convert, usage errors), and the exec connector's servo-exec shape
# (stages pre/start/stop/post run in order around the measurement, async tasks stopped, a
# failing task fails the measurement with post still run, request tasks refused). Then
# working_dir relative to the configuration file and the adjust command seeing every setting,
# through examples/exec-session from the repository root and from its folder.
#
# Environment (set by ctest): SERVO_BIN, SERVO_SOURCE_DIR. Needs jq.
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_tools jq
: "${SERVO_SOURCE_DIR:?}"
fixtures=$SERVO_SOURCE_DIR/tests/fixtures/legacy
scratch_dir servo-convert
clean_env
export SERVO_PLUGIN_PATH=
export NO_COLOR=1

# ---- every convertible fixture converts, and the result validates ----------------------------

step "convert and validate each fixture"
converted=0
for legacy in "$fixtures"/*.yaml; do
    name=$(basename "$legacy" .yaml)
    case $name in *syntaxerr | servo-k8s-config) continue ;; esac
    run config convert "$legacy" -o "$name.yaml"
    expect_rc 0
    check equals "$out" ""
    check contains "$name.yaml" "# Converted by \`servo config convert\` from $legacy"
    run -c "$name.yaml" validate
    expect_rc 0
    expect_out "Valid configuration in $name.yaml"
    converted=$((converted + 1))
done
check equals "$converted" 6

step "the fields of the k8s + prom + vegeta file"
run config convert "$fixtures/servo-k8s-prom-vegeta-config.yaml"
expect_rc 0
expect_err "not converted: vegeta.interactive (line 33): no equivalent"
expect_out "#   vegeta.interactive (line 33): no equivalent"
printf '%s\n' "$out" >kpv.yaml
run -c kpv.yaml config -f json
expect_rc 0
expect_json '.prometheus.base_url' '"http://prometheus.svc.opsani-monitoring:9090"'
expect_json '[.prometheus.metrics[] | [.name, .unit, .step]]' \
    '[["main_request_rate","rps","1m"],["main_p90_time","ms","1m"],["main_error_rate","rpm","1m"],["main_median_response_time","ms","1m"]]'
expect_json '.prometheus.metrics[0].query' '"sum(rate(envoy_cluster_upstream_rq_total{app=\"web\",role=\"main\"}[1m]))"'
expect_json '[.vegeta.rate, .vegeta.duration, .vegeta.target, .vegeta.workers, .vegeta.max_workers]' \
    '["30000/1m","10m","GET https://web:80/",50,5000]'
expect_json '.kubernetes.deployments[0] | [.name, .replicas.min, .replicas.max, .containers[0].name, .containers[0].alias, .containers[0].cpu.min, .containers[0].cpu.max]' \
    '["web",1,4,"web","web","125m","1"]'

step "the servo-k8s README example: components, selector, env, on_fail, settlement"
run config convert "$fixtures/servo-k8s-readme-example.yaml"
expect_rc 0
expect_err "k8s.adjust_on (line 2): no equivalent"
expect_err "k8s.application.components.front.settings.mem.selector (line 18): request_min_limit became set: [request]"
expect_err "k8s.application.components.nginx/backend.settings.cpu (line 34)"
printf '%s\n' "$out" >readme.yaml
run -c readme.yaml config -f json
expect_rc 0
expect_json '[.kubernetes.on_failure, .kubernetes.settlement]' '["rollback","5m"]'
expect_json '[.kubernetes.deployments[] | .name]' '["nginx"]'
expect_json '[.kubernetes.deployments[0].containers[] | [.name, .alias]]' '[["frontend","front"],["backend",null]]'
expect_json '.kubernetes.deployments[0].containers[0].memory | [.min, .max, .step, .set]' '["512Mi","8Gi","128Mi",["request"]]'
expect_json '.kubernetes.deployments[0].containers[0].env[0] | [.name, .min, .max, .default]' '["COMMIT_DELAY",1,100,"20"]'
expect_json '.kubernetes.deployments[0].replicas | [.min, .max, .step]' '[3,15,1]'

step "servo-exec's tasks"
run config convert "$fixtures/servo-exec-readme-tasks.yaml"
expect_rc 0
expect_err "exec.start[0] (line 4): request tasks are not supported"
printf '%s\n' "$out" >tasks.yaml
run -c tasks.yaml config -f json
expect_json '[.exec.start[] | .name]' '["Start VPN tunnel","Find data"]'
expect_json '.exec.start[0] | [.async, .retries, .exec]' '[true,3,["/bin/openvpn","-c","/etc/openvpn.conf"]]'
expect_json '.exec.start[1].shell_exec' '["cat /var/log/log | grep DATE | mail user@host.com"]'

# ---- failures -------------------------------------------------------------------------------

step "a YAML syntax error: exit 1 with file:line:col"
run config convert "$fixtures/servo-k8s-tst-config_syntaxerr.yaml"
expect_rc 1
expect_err "servo-k8s-tst-config_syntaxerr.yaml:3:"
check equals "$out" ""

step "nothing to convert: exit 1"
run config convert "$fixtures/servo-k8s-config.yaml" -o none.yaml
expect_rc 1
expect_err "k8s.deployments (line 3): no equivalent"
expect_err "nothing to convert"
expect_no_file none.yaml

step "usage errors and an unreadable file"
run config convert
expect_rc 2
expect_err "missing argument FILE"
run config convert a.yaml b.yaml
expect_rc 2
expect_err "unexpected argument b.yaml"
run config convert --bogus a.yaml
expect_rc 2
run config convert nowhere.yaml
expect_rc 1
expect_err "nowhere.yaml"
run config convert --help
expect_rc 0
expect_out "Usage: servo config convert FILE"
# a subcommand of the command table: `config`'s help lists it next to its own usage
run config --help
expect_rc 0
expect_out "       servo config convert FILE [-o FILE]"
expect_out "  convert      Convert a legacy Opsani servo's config.yaml"
expect_out "--show-secrets"
printf 'wavefront:\n  api_host: x\n' >other.yaml
run config convert other.yaml
expect_rc 1
expect_err "wavefront (line 2): the servo-wavefront driver has no equivalent here"

# ---- the exec connector's servo-exec shape --------------------------------------------------

step "servo-exec stages around a measurement"
cat >stages.yaml <<'EOF'
exec:
  pre:
  - name: clean
    exec: [sh, -c, 'echo pre >> order']
  start:
  - name: load
    async: true
    shell_exec: 'trap "echo stopped >> order; exit 0" TERM; while :; do sleep 0.1; done'
  - shell_exec: 'echo start >> order'
  stop:
  - name: stop it
    shell_exec: 'echo "stop $SERVO_DURATION" >> order'
    retries: 1
    timeout: 5
  post:
  - shell_exec: 'echo post >> order; exit 3'
EOF
run -c stages.yaml measure -d 1s
expect_rc 0
check equals "$(tr '\n' ' ' <order)" "pre start stop 1 stopped post "

step "a failing task fails the measurement; post still runs, retries are made"
rm -f order
sed -i 's/echo "stop $SERVO_DURATION" >> order/echo stop >> order; false/' stages.yaml
run -c stages.yaml measure -d 1s
expect_rc 1
expect_err 'measure failed (task-failed): the stop task "stop it" failed'
check equals "$(tr '\n' ' ' <order)" "pre start stop stop stopped post "

step "request tasks and shapeless tasks are refused"
printf 'exec:\n  start:\n  - request: {url: "http://x"}\n' >request.yaml
run -c request.yaml validate
expect_rc 1
expect_err "request tasks are not supported"
printf 'exec:\n  pre:\n  - name: nothing\n' >empty.yaml
run -c empty.yaml validate
expect_rc 1
expect_err "a task needs exec or shell_exec"
printf 'exec:\n  measure: ./m\n  pre:\n  - exec: "true"\n' >both.yaml
run -c both.yaml validate
expect_rc 1
expect_err "measure and the servo-exec stages"

# ---- working_dir and the adjust environment, with the exec example --------------------------

example=$SERVO_SOURCE_DIR/examples/exec-session
cp -r "$example" example
for where in . example; do
    step "examples/exec-session from $where"
    (
        cd "$where"
        config=servo.yaml
        [[ $where == . ]] && config=example/servo.yaml
        rm -f example/state.json state.json
        run -c "$config" describe
        expect_rc 0
        expect_out "main.cpu=1"
        run -c "$config" adjust main.cpu=2
        expect_rc 0
        expect_out "main.replicas=2"
        state=example/state.json
        [[ $where == example ]] && state=state.json
        expect_file "$state" '{"cpu": 2, "replicas": 2}'
        run -c "$config" check
        expect_rc 0
        expect_no_err "././"
    ) || exit 1
done

step "working_dir from the environment is relative to the working directory"
mkdir -p sub/bin
printf '#!/bin/sh\necho "{\\"application\\":{\\"components\\":{}}}"\n' >sub/bin/d
chmod +x sub/bin/d
printf 'exec:\n  describe: ./d\n  working_dir: bin\n' >sub/servo.yaml
run -c sub/servo.yaml describe
expect_rc 0
SERVO_EXEC_WORKING_DIR=sub/bin run -c sub/servo.yaml describe
expect_rc 0
SERVO_EXEC_WORKING_DIR=bin run -c sub/servo.yaml describe
expect_rc 1
run -c sub/servo.yaml config -f json
expect_json '.exec.working_dir' '"bin"'

passed
