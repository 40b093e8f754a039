#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""N simulated servos against `servo optimizer serve` (one URL or several: each servo picks
one at random per connection, failing over on errors). Each servo drives its application
through a whole session as fast as the server answers: HELLO, then WHATS_NEXT and the result
of each command (a 3-setting description, measurements computed from the settings), until
SLEEP. Prints requests per second and p50/p99 latency of the protocol requests that do not
suggest (HELLO, WHATS_NEXT, DESCRIPTION, ADJUSTMENT) and of those that do (a MEASUREMENT
result: the engine suggests the next trial before the reply), and the count of errors.

    fleet.py --apps N --urls URL[,URL] --budget B [--prefix bench]
"""
import argparse, http.client, json, random, statistics, sys, threading, time, urllib.parse

DESCRIPTOR = {"application": {"components": {"main": {"settings": {
    "cpu": {"type": "range", "min": 0.5, "max": 4, "step": 0.25, "value": 1},
    "replicas": {"type": "range", "min": 1, "max": 8, "step": 1, "value": 2},
    "mode": {"type": "enum", "values": ["a", "b", "c"], "value": "a"}}}}},
    "measurement": {"metrics": {"throughput": {"unit": "rps"}}}}

lock = threading.Lock()
plain, suggesting, errors = [], [], [0]


class Servo:
    def __init__(self, app, urls, token):
        self.app, self.urls, self.token = app, urls, token
        self.conn = None
        self.settings = {"cpu": 1.0, "replicas": 2, "mode": "a"}

    def connect(self):
        url = urllib.parse.urlparse(random.choice(self.urls))
        self.conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)

    def post(self, event, param, kind):
        body = json.dumps({"event": event, "param": param, "servo_uid": self.app})
        path = "/accounts/bench/applications/%s/servo" % self.app.split("/")[1]
        for attempt in range(50):
            try:
                if self.conn is None:
                    self.connect()
                started = time.monotonic()
                self.conn.request("POST", path, body, {"Authorization": "Bearer " + self.token,
                                                      "Content-Type": "application/json"})
                reply = self.conn.getresponse()
                data = reply.read()
                elapsed = time.monotonic() - started
                if reply.status == 200:
                    with lock:
                        (suggesting if kind else plain).append(elapsed)
                    return json.loads(data)
                with lock:
                    errors[0] += 1
            except (OSError, http.client.HTTPException):
                with lock:
                    errors[0] += 1
                self.conn = None
            time.sleep(min(2.0, 0.05 * 2 ** attempt))
        raise RuntimeError("%s: %s failed 50 times" % (self.app, event))

    def run(self):
        self.post("HELLO", {"agent": "fleet.py"}, False)
        while True:
            command = self.post("WHATS_NEXT", None, False)
            cmd, uid = command["cmd"], command.get("cmd_uid")
            if cmd == "SLEEP":
                return
            if cmd == "DESCRIBE":
                self.post("DESCRIPTION", {"status": "ok", "cmd_uid": uid,
                                          "descriptor": DESCRIPTOR}, False)
            elif cmd == "ADJUST":
                state = command["param"]["state"]["application"]["components"]["main"]
                for name, value in state["settings"].items():
                    self.settings[name] = value["value"]
                self.post("ADJUSTMENT", {"status": "ok", "cmd_uid": uid, "state": {}}, False)
            elif cmd == "MEASURE":
                s = self.settings
                value = 100 * s["cpu"] * s["replicas"] ** 0.5 - 12 * s["cpu"] ** 2 * s["replicas"]
                self.post("MEASUREMENT", {"status": "ok", "cmd_uid": uid, "metrics": {
                    "throughput": {"unit": "rps", "value": value}}}, True)


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))] * 1000 if values else 0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--apps", type=int, required=True)
    parser.add_argument("--urls", required=True)
    args = parser.parse_args()
    urls = args.urls.split(",")
    servos = [Servo("bench/app%d" % i, urls, "tok-%d" % i) for i in range(args.apps)]
    threads = [threading.Thread(target=s.run) for s in servos]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    total = len(plain) + len(suggesting)
    print("apps=%d requests=%d seconds=%.1f rps=%.0f plain_p50=%.1fms plain_p99=%.1fms "
          "suggesting_p50=%.1fms suggesting_p99=%.1fms errors=%d" % (
              args.apps, total, elapsed, total / elapsed, percentile(plain, 50),
              percentile(plain, 99), percentile(suggesting, 50), percentile(suggesting, 99),
              errors[0]))


main()
