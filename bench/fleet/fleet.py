#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""N simulated servos against `servo optimizer serve` (one URL or several: each servo picks
one at random per connection, and another after an error). Each servo drives its application
through a whole session: HELLO, then WHATS_NEXT and the result of each command (a 3-setting
description, measurements computed from the settings), until SLEEP. A MEASURE takes
--measure seconds (jittered by up to a quarter, so that the servos do not march in step),
everything else is answered at once. One asyncio loop drives every servo (keep-alive
connections, no threads), so the generator's own cost stays small next to the server's.

Prints requests per second and p50/p99 latency of the protocol requests that do not suggest
(HELLO, WHATS_NEXT, DESCRIPTION, ADJUSTMENT) and of those that do (a MEASUREMENT result: the
engine suggests the next trial before the reply), the count of failed attempts (retried),
then checks every study: `wrong_trials` counts the studies whose /trials do not hold exactly
BUDGET + 1 trials, `remeasured` the MEASURE commands a servo was given twice.

    fleet.py --apps N --urls URL[,URL] --budget B [--measure SECONDS] [--kill PID --after S]
"""
import argparse, asyncio, json, os, random, signal, sys, time, urllib.parse

DESCRIPTOR = {"application": {"components": {"main": {"settings": {
    "cpu": {"type": "range", "min": 0.5, "max": 4, "step": 0.25, "value": 1},
    "replicas": {"type": "range", "min": 1, "max": 8, "step": 1, "value": 2},
    "mode": {"type": "enum", "values": ["a", "b", "c"], "value": "a"}}}}},
    "measurement": {"metrics": {"throughput": {"unit": "rps"}}}}

plain, suggesting = [], []
errors = [0]


class Connection:
    def __init__(self, url):
        self.url = urllib.parse.urlparse(url)
        self.reader = self.writer = None

    async def request(self, method, path, token, body=None):
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.url.hostname,
                                                                     self.url.port)
        data = body.encode() if body is not None else b""
        head = ("%s %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"
                "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % (
                    method, path, self.url.netloc, token, len(data)))
        self.writer.write(head.encode() + data)
        await self.writer.drain()
        status = int((await self.reader.readline()).split()[1])
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode().partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        return status, await self.reader.readexactly(length)

    def close(self):
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


class Servo:
    def __init__(self, index, urls, measure):
        self.app = "app%d" % index
        self.token = "tok-%d" % index
        self.urls, self.measure = urls, measure
        self.conn = None
        self.settings = {"cpu": 1.0, "replicas": 2, "mode": "a"}
        self.measured = set()
        self.remeasured = 0

    async def post(self, event, param, kind):
        body = json.dumps({"event": event, "param": param, "servo_uid": self.app})
        path = "/accounts/bench/applications/%s/servo" % self.app
        for attempt in range(60):
            try:
                if self.conn is None:
                    self.conn = Connection(random.choice(self.urls))
                started = time.monotonic()
                status, data = await asyncio.wait_for(
                    self.conn.request("POST", path, self.token, body), 60)
                elapsed = time.monotonic() - started
                if status == 200:
                    (suggesting if kind else plain).append(elapsed)
                    return json.loads(data)
                errors[0] += 1
            except (OSError, ValueError, IndexError, asyncio.TimeoutError,
                    asyncio.IncompleteReadError):
                errors[0] += 1
                self.conn.close()
                self.conn = None
            await asyncio.sleep(min(2.0, 0.05 * 2 ** attempt) * random.uniform(0.5, 1))
        raise RuntimeError("%s: %s failed 60 times" % (self.app, event))

    async def run(self):
        await asyncio.sleep(random.uniform(0, self.measure))  # servos start at different times
        await self.post("HELLO", {"agent": "fleet.py"}, False)
        while True:
            command = await self.post("WHATS_NEXT", None, False)
            cmd, uid = command["cmd"], command.get("cmd_uid")
            if cmd == "SLEEP":
                break
            if cmd == "DESCRIBE":
                await self.post("DESCRIPTION", {"status": "ok", "cmd_uid": uid,
                                                "descriptor": DESCRIPTOR}, False)
            elif cmd == "ADJUST":
                state = command["param"]["state"]["application"]["components"]["main"]
                for name, value in state["settings"].items():
                    self.settings[name] = value["value"]
                await self.post("ADJUSTMENT", {"status": "ok", "cmd_uid": uid, "state": {}},
                                False)
            elif cmd == "MEASURE":
                self.remeasured += uid in self.measured
                self.measured.add(uid)
                await asyncio.sleep(self.measure * random.uniform(0.75, 1.25))
                s = self.settings
                value = 100 * s["cpu"] * s["replicas"] ** 0.5 - 12 * s["cpu"] ** 2 * s["replicas"]
                await self.post("MEASUREMENT", {"status": "ok", "cmd_uid": uid, "metrics": {
                    "throughput": {"unit": "rps", "value": value}}}, True)
        if self.conn is not None:
            self.conn.close()

    async def trial_count(self, url):
        conn = Connection(url)
        try:
            status, data = await conn.request(
                "GET", "/accounts/bench/applications/%s/trials" % self.app, self.token)
            return len(json.loads(data)["trials"]) if status == 200 else -1
        finally:
            conn.close()


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))] * 1000 if values else 0


async def kill_later(pid, after):
    await asyncio.sleep(after)
    os.kill(pid, signal.SIGKILL)
    print("killed %d after %.1fs" % (pid, after), file=sys.stderr)


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--apps", type=int, required=True)
    parser.add_argument("--urls", required=True)
    parser.add_argument("--budget", type=int, required=True)
    parser.add_argument("--measure", type=float, default=0)
    parser.add_argument("--kill", type=int, help="a server pid to SIGKILL during the run")
    parser.add_argument("--after", type=float, default=5)
    args = parser.parse_args()
    urls = args.urls.split(",")
    servos = [Servo(i, urls, args.measure) for i in range(args.apps)]
    started = time.monotonic()
    killer = asyncio.ensure_future(kill_later(args.kill, args.after)) if args.kill else None
    await asyncio.gather(*(s.run() for s in servos))
    elapsed = time.monotonic() - started
    if killer is not None:
        killer.cancel()
    survivors = urls if args.kill is None else urls[1:]
    counts = []
    for i in range(0, len(servos), 50):
        counts += await asyncio.gather(*(s.trial_count(survivors[0]) for s in servos[i:i + 50]))
    wrong = sum(1 for c in counts if c != args.budget + 1)
    remeasured = sum(s.remeasured for s in servos)
    total = len(plain) + len(suggesting)
    print("apps=%d requests=%d seconds=%.1f rps=%.0f plain_p50=%.1fms plain_p99=%.1fms "
          "suggesting_p50=%.1fms suggesting_p99=%.1fms errors=%d wrong_trials=%d remeasured=%d" % (
              args.apps, total, elapsed, total / elapsed, percentile(plain, 50),
              percentile(plain, 99), percentile(suggesting, 50), percentile(suggesting, 99),
              errors[0], wrong, remeasured))
    return 1 if wrong or remeasured else 0


sys.exit(asyncio.run(main()))
