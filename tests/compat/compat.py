#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The ServoX compatibility test: the recorded outputs of the original ServoX 25.3
(tests/fixtures/servox: CLI stdout/stderr/exit codes, protocol exchanges) compared with this
servo's for the same inputs.

    compat.py --servo BIN --source DIR

Each comparison yields findings "CASE FIELD: servox X, here Y". A finding must be listed in
tests/compat/differences.json (with why it is intended) or the test fails; a listed difference
that no longer occurs fails too (the list must stay true), unless it is marked "either": a
difference that work in flight may remove.

Shapes are compared field by field: JSON object keys, value kinds (number, string, bool, null,
object, array), list lengths; exact values where they must match (exit codes, event names and
order, statuses and reasons, cmd_uid echoes, the descriptor the connector reports).
"""

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

findings = []  # (case, field, servox, ours)


def find(case, field, servox, ours):
    findings.append((case, field, servox, ours))


def kind(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object"


def compare_shape(case, path, servox, ours, exact=()):
    """Keys, kinds and lengths; values too under the paths in `exact` (prefixes)."""
    if kind(servox) != kind(ours):
        find(case, path, kind(servox), kind(ours))
        return
    if isinstance(servox, dict):
        missing = sorted(set(servox) - set(ours))
        extra = sorted(set(ours) - set(servox))
        if missing:
            find(case, path + " keys missing", missing, None)
        if extra:
            find(case, path + " keys extra", None, extra)
        for k in servox:
            if k in ours:
                compare_shape(case, f"{path}.{k}", servox[k], ours[k], exact)
    elif isinstance(servox, list):
        if any(path.startswith(e) for e in exact) and len(servox) != len(ours):
            find(case, path + " length", len(servox), len(ours))
        for i, (a, b) in enumerate(zip(servox, ours)):
            compare_shape(case, f"{path}[{i}]", a, b, exact)
    elif any(path.startswith(e) for e in exact) and servox != ours:
        find(case, path, servox, ours)


# ---- the CLI ---------------------------------------------------------------------------------


def run(servo, args, cwd, env):
    p = subprocess.run([servo] + args, cwd=cwd, env=env, capture_output=True, text=True,
                       timeout=60)
    return p.returncode, p.stdout, p.stderr


def recorded(cli_dir, name, what):
    path = os.path.join(cli_dir, f"{name}.{what}")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return f.read()


def cli_cases(servo, cli_dir, work, env):
    shutil.copy(os.path.join(cli_dir, "generate-vegeta-prometheus.servo.yaml"),
                os.path.join(work, "servo.yaml"))
    shutil.copy(os.path.join(cli_dir, "validate-invalid.input.yaml"),
                os.path.join(work, "invalid.yaml"))
    empty = os.path.join(work, "empty")
    os.makedirs(empty, exist_ok=True)
    # name, arguments, working directory, what to compare
    cases = [
        ("version", ["version"], work, ["rc", "first-line-form", "line-count"]),
        ("version-short", ["version", "-s"], work, ["rc", "first-line-form", "line-count"]),
        ("version-json", ["version", "-f", "json"], work, ["rc", "json-keys"]),
        ("version-prometheus", ["version", "prometheus"], work, ["rc", "stdout"]),
        ("connectors", ["connectors"], work, ["rc", "table-header"]),
        ("connectors-v", ["connectors", "-v"], work, ["rc", "table-header"]),
        ("validate-valid", ["validate"], work, ["rc", "stdout"]),
        ("validate-invalid", ["validate", "-f", "invalid.yaml"], work, ["rc", "stderr-first-line"]),
        ("validate-missing", ["validate", "-f", "nope.yaml"], work, ["rc"]),
        ("config-missing", ["config"], empty, ["rc"]),
        ("config-json", ["config", "-f", "json"], work, ["rc", "json-top-keys"]),
        ("config-dict", ["config", "-f", "dict"], work, ["rc"]),
        ("config-configmap", ["config", "-f", "configmap"], work, ["rc", "configmap-keys"]),
        ("schema", ["schema"], work, ["rc", "json-top-keys"]),
        ("schema-top-level", ["schema", "--top-level"], work, ["rc", "json-top-keys"]),
        ("schema-prometheus", ["schema", "prometheus"], work, ["rc", "schema-properties"]),
        ("schema-wait", ["schema", "wait"], work, ["rc", "schema-properties"]),
        ("schema-text", ["schema", "-f", "text"], work, ["rc"]),
        ("schema-html", ["schema", "-f", "html"], work, ["rc"]),
        ("help", ["--help"], work, ["rc", "help-commands"]),
    ]
    for name, args, cwd, checks in cases:
        rc, out, err = run(servo, args, cwd, env)
        want_rc = recorded(cli_dir, name, "rc")
        want_out = recorded(cli_dir, name, "stdout") or ""
        want_err = recorded(cli_dir, name, "stderr") or ""
        case = "cli " + name
        for check in checks:
            compare_cli(case, check, int(want_rc), rc, want_out, out, want_err, err)


def json_or_none(text):
    try:
        return json.loads(text)
    except ValueError:
        return None


def table_header(text):
    first = text.splitlines()[0] if text.strip() else ""
    return first.split()


def help_commands(text):
    """The command names of `servo --help` (rich boxes in ServoX, plain sections here)."""
    names = set()
    for line in text.splitlines():
        m = re.match(r"^[\s│|]*([a-z][a-z-]+)\s{2,}\S", line)
        if m:
            names.add(m.group(1))
    return names


def compare_cli(case, check, want_rc, rc, want_out, out, want_err, err):
    if check == "rc":
        if want_rc != rc:
            find(case, "exit code", want_rc, rc)
    elif check == "stdout":
        if want_out != out:
            find(case, "stdout", want_out, out)
    elif check == "first-line-form":
        form = r'^Servo v\S+ "\S+"'
        a, b = want_out.splitlines()[0], out.splitlines()[0] if out else ""
        if bool(re.match(form, a)) != bool(re.match(form, b)):
            find(case, "first line", a, b)
    elif check == "line-count":
        if len(want_out.splitlines()) != len(out.splitlines()):
            find(case, "line count", len(want_out.splitlines()), len(out.splitlines()))
    elif check == "json-keys":
        compare_shape(case, "stdout", json_or_none(want_out), json_or_none(out))
    elif check == "json-top-keys":
        a, b = json_or_none(want_out), json_or_none(out)
        if kind(a) != kind(b):
            find(case, "stdout", kind(a), kind(b))
        elif isinstance(a, dict):
            compare_shape(case, "stdout", {k: None for k in a}, {k: None for k in b})
    elif check == "schema-properties":
        a, b = json_or_none(want_out) or {}, json_or_none(out) or {}
        pa, pb = set(a.get("properties", {})), set(b.get("properties", {}))
        if pa - pb:
            find(case, "properties missing", sorted(pa - pb), None)
        if pb - pa:
            find(case, "properties extra", None, sorted(pb - pa))
        if a.get("title") != b.get("title"):
            find(case, "title", a.get("title"), b.get("title"))
    elif check == "table-header":
        if table_header(want_out) != table_header(out):
            find(case, "header", table_header(want_out), table_header(out))
    elif check == "stderr-first-line":
        a = want_err.splitlines()[0] if want_err else ""
        b = err.splitlines()[0] if err else ""
        if a != b:
            find(case, "stderr first line", a, b)
    elif check == "configmap-keys":
        keys = lambda text: [l.split(":")[0] for l in text.splitlines()
                             if re.match(r"^[a-zA-Z]", l)]
        if keys(want_out) != keys(out):
            find(case, "top-level keys", keys(want_out), keys(out))
    elif check == "help-commands":
        a, b = help_commands(want_out), help_commands(out)
        if a - b:
            find(case, "commands missing", sorted(a - b), None)


# ---- the protocol ----------------------------------------------------------------------------


def exchanges(scenario_dir):
    """The scenario's exchanges in order (NN-EVENT.json: request, request_headers, ...)."""
    names = sorted(n for n in os.listdir(scenario_dir) if re.match(r"^\d\d-.*\.json$", n))
    result = []
    for name in names:
        with open(os.path.join(scenario_dir, name)) as f:
            result.append(json.load(f))
    return result


# ServoX's peer stub connector, played by an exec connector: its components, metrics and
# readings as the recordings show them.
STUB_COMPONENTS = """\
exec:
  measure: ./measure
  adjust: ./adjust
  components:
    main:
      settings:
        cpu: {min: 0.25, max: 4, step: 0.125, unit: cores, value: '1'}
        mem: {min: 0.5, max: 8, step: 0.25, unit: GiB, value: '2'}
        replicas: {min: 1, max: 10, step: 1, value: 2}
"""

STUB_CONFIG = STUB_COMPONENTS + """\
  metrics:
  - {name: throughput, unit: rps}
  - {name: error_rate, unit: '%'}
"""

# with the metrics not declared, so that the measure command is asked for "bogus" too
ERRORS_CONFIG = "servo_uid: servo-uid-peer-1\n" + STUB_COMPONENTS


def series(series_id, first):
    return {"id": series_id, "data": [[1704067200, first], [1704067230, first + 1.0],
                                      [1704067260, first + 2.0]]}


def stub_measure(metrics, refuse_bogus=False):
    """The stub's measure: two progress lines a second apart, then its readings; with
    `refuse_bogus`, a failure when "bogus" is asked for (its unknown-metric error)."""
    result = json.dumps({"metrics": metrics, "annotations": {"stub": "peer"}})
    refusal = ("if grep -q '\"bogus\"'; then\n"
               "  echo '{\"status\": \"failed\", \"reason\": \"unknown-metric\", "
               "\"message\": \"stub cannot measure metric '\"'bogus'\"'\"}'\n"
               "  exit 0\nfi\n") if refuse_bogus else "cat >/dev/null\n"
    return ("#!/bin/sh\n" + refusal +
            "echo '{\"progress\": 33, \"message\": \"stub measuring\"}'\nsleep 1\n"
            "echo '{\"progress\": 66, \"message\": \"stub measuring\"}'\nsleep 1\n"
            "echo '" + result + "'\n")


STUB_MEASURE = stub_measure({
    "throughput": {"unit": "rps", "values": [series("1795822779", 10.0)]},
    "error_rate": {"unit": "%", "values": [series("1795822779", 20.0)]}})
ERRORS_MEASURE = stub_measure(
    {"throughput": {"unit": "rps", "values": [series("1795822812", 10.0)]}}, True)

STUB_ADJUST = "#!/bin/sh\ncat >/dev/null\necho '{\"status\": \"ok\"}'\n"

# the stub's rejection of 9 replicas
ERRORS_ADJUST = """\
#!/bin/sh
cat >/dev/null
if [ "$SERVO_MAIN_REPLICAS" = 9 ]; then
  echo '{"status": "rejected", "reason": "scale-limit", "message": "stub rejects replicas=9"}'
  exit 0
fi
echo '{"status": "ok"}'
"""


def replay_script(recorded_exchanges, path):
    """The fake optimizer's script: the recorded reply to each event but progress reports."""
    steps = [{"expect": e["request"]["event"], "reply": e["response"]}
             for e in recorded_exchanges
             if "progress" not in (e["request"].get("param") or {})
             and e["request"]["event"] not in ("HELLO", "GOODBYE")]
    with open(path, "w") as f:
        json.dump(steps, f)


def session(servo, source, work, env, config, files, fake_args, whats_next):
    """Runs the servo against tests/fake_optimizer.py until `whats_next` WHATS_NEXT requests,
    then SIGTERM; returns the requests it sent."""
    os.makedirs(work, exist_ok=True)
    with open(os.path.join(work, "servo.yaml"), "w") as f:
        f.write(config)
    for name, text in files.items():
        path = os.path.join(work, name)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o755)
    log = os.path.join(work, "requests.jsonl")
    fake = subprocess.Popen([sys.executable, os.path.join(source, "tests/fake_optimizer.py"),
                             "--port", "0", "--token", "00000000-0000-0000-0000-000000000000",
                             "--log", log] + fake_args,
                            stdout=subprocess.PIPE, text=True)
    try:
        url = fake.stdout.readline().strip().replace("listening on ", "")
        servo_p = subprocess.Popen(
            [servo, "--url", url + "/accounts/dev.opsani.com/applications/peer/",
             "--token", "00000000-0000-0000-0000-000000000000", "run"],
            cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=open(
                os.path.join(work, "servo.err"), "w"))
        deadline = time.time() + 120
        while time.time() < deadline:
            if servo_p.poll() is not None:
                break
            if os.path.exists(log):
                with open(log) as f:
                    if sum('"WHATS_NEXT"' in l for l in f) >= whats_next:
                        break
            time.sleep(0.1)
        # the last WHATS_NEXT was answered SLEEP: nothing more is sent until the signal
        servo_p.send_signal(signal.SIGTERM)
        servo_rc = servo_p.wait(timeout=30)
    finally:
        fake.send_signal(signal.SIGTERM)
        fake.wait(timeout=30)
    with open(log) as f:
        sent = [json.loads(line) for line in f if line.strip()]
    return servo_rc, [r["body"] for r in sent], sent


def without_metrics(body):
    """The body without the descriptor's metrics (a session whose connector declares none)."""
    body = json.loads(json.dumps(body))
    descriptor = (body.get("param") or {}).get("descriptor") or {}
    descriptor.pop("measurement", None)
    return body


def compare_session(case, recorded_exchanges, servo_rc, bodies, requests, exact_descriptor):
    if servo_rc != 0:
        find(case, "servo exit code after SIGTERM", 0, servo_rc)
    want = [(e["request"]["event"], "progress" in (e["request"].get("param") or {}))
            for e in recorded_exchanges]
    got = [(b["event"], "progress" in (b.get("param") or {})) for b in bodies]
    # progress reports: how many depends on timing; the final events and their order must match
    finals = lambda seq: [e for e, progress in seq if not progress]
    if finals(want) != finals(got):
        find(case, "event order", finals(want), finals(got))
    if any(p for _, p in want) and not any(p for _, p in got):
        find(case, "progress reports", "sent", "none")
    want_final = [e["request"] for e in recorded_exchanges
                  if "progress" not in (e["request"].get("param") or {})]
    got_final = [b for b in bodies if "progress" not in (b.get("param") or {})]
    exact = ["event", "param.status", "param.reason", "param.cmd_uid", "servo_uid"]
    if any((b.get("param") or {}).get("status") in ("failed", "rejected") for b in got_final):
        exact.append("param.message")
    if exact_descriptor:
        exact += ["param.descriptor", "param.state", "param.metrics", "param.annotations"]
    if not exact_descriptor:
        want_final = [without_metrics(a) for a in want_final]
        got_final = [without_metrics(b) for b in got_final]
    for a, b in zip(want_final, got_final):
        compare_shape(f"{case} {a['event']}", "body", a, b, tuple("body." + e for e in exact))
    want_progress = [e["request"] for e in recorded_exchanges
                     if "progress" in (e["request"].get("param") or {})]
    got_progress = [b for b in bodies if "progress" in (b.get("param") or {})]
    if want_progress and got_progress:
        compare_shape(f"{case} progress", "body", want_progress[0], got_progress[0],
                      ("body.event",))
    # the request line and the headers a proxy or the optimizer may look at
    a, b = recorded_exchanges[0], requests[0]
    if a["method"] != b["method"]:
        find(case, "method", a["method"], b["method"])
    if a["path"] != b["path"]:
        find(case, "path", a["path"], b["path"])
    for header in ("authorization", "content-type"):
        if a["request_headers"].get(header) != b["headers"].get(header):
            find(case, "header " + header, a["request_headers"].get(header),
                 b["headers"].get(header))
    ua = lambda h: re.sub(r"v[\d.]+.*$", "vX", h or "")
    if ua(a["request_headers"].get("user-agent")) != ua(b["headers"].get("user-agent")):
        find(case, "user-agent form", a["request_headers"].get("user-agent"),
             b["headers"].get("user-agent"))


def protocol_cases(servo, source, fixtures, work, env):
    rc, bodies, requests = session(
        servo, source, os.path.join(work, "wait"), env,
        "wait:\n  measure_enabled: true\n", {},
        ["--sequence", "--cmd-uids", "--metrics", "", "--measure-duration", "3"], 4)
    compare_session("protocol wait", exchanges(os.path.join(fixtures, "wait")), rc, bodies,
                    requests, True)
    adjust = ["--adjust", "main.cpu=1.5", "--adjust", "main.mem=3.0",
              "--adjust", "main.replicas=3"]
    rc, bodies, requests = session(
        servo, source, os.path.join(work, "stub"), env, STUB_CONFIG,
        {"measure": STUB_MEASURE, "adjust": STUB_ADJUST},
        ["--sequence", "--metrics", "throughput,error_rate", "--measure-duration", "3"] + adjust,
        4)
    compare_session("protocol stub", exchanges(os.path.join(fixtures, "stub")), rc, bodies,
                    requests, True)
    recorded = exchanges(os.path.join(fixtures, "stub-errors"))
    errors_dir = os.path.join(work, "stub-errors")
    os.makedirs(errors_dir)
    replay_script(recorded, os.path.join(errors_dir, "script.json"))
    rc, bodies, requests = session(
        servo, source, errors_dir, env, ERRORS_CONFIG,
        {"measure": ERRORS_MEASURE, "adjust": ERRORS_ADJUST},
        ["--script", os.path.join(errors_dir, "script.json")], 5)
    # no metrics are declared (so that the measure command is asked for "bogus"): the
    # descriptor's metrics are left out of the comparison, and its values are not compared
    compare_session("protocol stub-errors", recorded, rc, bodies, requests, False)


# ---- the verdict -----------------------------------------------------------------------------


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--servo", required=True)
    p.add_argument("--source", required=True)
    args = p.parse_args()
    servo = os.path.abspath(args.servo)
    fixtures = os.path.join(args.source, "tests/fixtures/servox")
    with open(os.path.join(args.source, "tests/compat/differences.json")) as f:
        differences = json.load(f)["differences"]
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SERVO_", "OPSANI_")) and k != "NO_COLOR"}
    env["SERVO_PLUGIN_PATH"] = ""
    env["NO_COLOR"] = "1"
    work = tempfile.mkdtemp(prefix="servo-compat-")
    try:
        cli_cases(servo, os.path.join(fixtures, "cli"), work, env)
        protocol_cases(servo, args.source, fixtures, work, env)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    listed = {(d["case"], d["field"]): d for d in differences}
    seen = set()
    failed = 0
    for case, field, servox, ours in findings:
        key = (case, field)
        seen.add(key)
        if key in listed:
            print(f"intended: {case} {field}: {listed[key]['why']}")
        else:
            failed += 1
            print(f"DIFFERENT: {case} {field}: servox {json.dumps(servox)[:300]}, "
                  f"here {json.dumps(ours)[:300]}")
    for key, d in listed.items():
        if key not in seen and not d.get("either"):
            failed += 1
            print(f"STALE: {key[0]} {key[1]} is listed in differences.json but no longer "
                  f"differs: remove it (and its line in docs/servox-differences.md)")
    print(f"compat: {len(findings)} differences found, {failed} not as listed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
