#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# One MEASUREMENT with N distinct metrics against a running `servo optimizer serve` whose file has
# the application bench/a (token tok-a): prints how long the server took to answer it.
#   bench/fleet/wide_measurement.py URL N
import json, sys, time, urllib.request
url = sys.argv[1]
DESCRIPTOR = {"application": {"components": {"main": {"settings": {
    "cpu": {"type": "range", "min": 0.25, "max": 4, "step": 0.25, "value": 1, "pinned": False},
    "replicas": {"type": "range", "min": 1, "max": 8, "step": 1, "value": 2, "pinned": False}}}}},
    "measurement": {"metrics": {"throughput": {"unit": "rps"}}}}
def post(app, tok, event, param):
    body = json.dumps({"event": event, "param": param, "servo_uid": app}).encode()
    req = urllib.request.Request("%s/accounts/bench/applications/%s/servo" % (url, app), body,
        {"Content-Type": "application/json", "Authorization": "Bearer " + tok})
    t = time.monotonic()
    with urllib.request.urlopen(req) as r:
        data = json.loads(r.read())
    return data, time.monotonic() - t
post("a", "tok-a", "HELLO", {"agent": "x"})
c, _ = post("a", "tok-a", "WHATS_NEXT", None)
assert c["cmd"] == "DESCRIBE", c
post("a", "tok-a", "DESCRIPTION", {"status": "ok", "cmd_uid": c["cmd_uid"], "descriptor": DESCRIPTOR})
c, _ = post("a", "tok-a", "WHATS_NEXT", None)
assert c["cmd"] == "MEASURE", c
metrics = {"throughput": {"unit": "rps", "value": 100}}
for i in range(int(sys.argv[2])):
    metrics["m%d" % i] = {"unit": "", "value": i}
body = {"status": "ok", "cmd_uid": c["cmd_uid"], "metrics": metrics}
print("body bytes", len(json.dumps(body)))
r, dt = post("a", "tok-a", "MEASUREMENT", body)
print("MEASUREMENT with %s metrics: %.3f s -> %s" % (sys.argv[2], dt, str(r)[:120]))
r, dt = post("a", "tok-a", "WHATS_NEXT", None)
print("next WHATS_NEXT: %.3f s -> %s" % (dt, r["cmd"]))
