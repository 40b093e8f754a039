#!/usr/bin/env python3
"""A scriptable fake Opsani optimizer (Python 3 standard library only).

Serves POST /accounts/{org}/applications/{app}/servo -- and, for fault tests, any other path --
speaking the servo protocol, and answers from a script: a JSON list of steps consumed in order.

    fake_optimizer.py --script steps.json --log requests.jsonl [--port 0] [--token T]
    fake_optimizer.py --sequence --measure-duration 5 --adjust main.cpu=1.5 [--log ...]

The first line on stdout is "listening on http://127.0.0.1:PORT" (--port 0 picks a free port).
SIGTERM (or SIGINT) stops the server; the exit status is 0.

A step is an object:

    {"expect": "WHATS_NEXT",                 # the event it answers (absent or "*": any event;
                                             #  "progress": a progress report, see below)
     "reply": {"cmd": "DESCRIBE", ...},      # the JSON reply (default {"status": "ok"}, or
                                             #  {"detail": "<reason>"} for a status >= 400)
     "status": 503,                          # the HTTP status (default 200)
     "body": "garbage",                      # a raw body instead of "reply"
     "truncate": true,                       # announce the whole body, send half, close
     "delay": 2.5,                           # seconds to wait before answering
     "trickle": 0.5,                         # send the body one byte every 0.5 s
     "close": true,                          # reset the connection instead of answering
     "repeat": 3}                            # answer this many requests with it (default 1)

Matching: a request is answered by the next step when the step expects its event. Otherwise:
progress reports (MEASUREMENT / ADJUSTMENT / DESCRIPTION whose param has "progress") and HELLO
and GOODBYE are answered {"status": "ok"} without consuming a step; any other event gets the
real optimizer's {"status": "unexpected-event", "reason": "Out of order event ..."}. A progress
report is consumed by a step only when that step says "expect": "progress" (e.g. to answer
{"status": "cancel", "reason": "..."}). When the script is used up, WHATS_NEXT is answered
{"cmd": "SLEEP", "param": {"duration": 3600, "data": {"reason": "script done"}}} and every
other event {"status": "ok"}.

--token T: requests must authenticate as the servo does with that token ("Authorization:
Bearer T"; a token "Bearer T" is compared as is; "X-SF-Token T" wants that header), else 401.

--log FILE: one JSON line per request, written as it arrives and flushed:
    {"time": epoch, "client": "HOST:PORT" (the servo's end of the connection), "method",
     "path", "headers": {lower-cased name: value}, "body": the parsed JSON (null when it is
     not JSON), "raw": the raw body when it is not JSON, "status": the HTTP status answered
     (null when the connection was reset), "step": the index of the script step used (null
     when none)}

--sequence: no script; like ServoX's tests/fake.py SequencedOptimizer: DESCRIBE, then MEASURE
(--metrics, --measure-duration, --warmup, --delay), then ADJUST (--adjust COMPONENT.SETTING=VALUE,
repeatable; --settlement), then SLEEP (--sleep seconds, "optimization complete"). --cycles N
repeats MEASURE/ADJUST. --cmd-uids puts "cmd-N" cmd_uids in commands.
"""

import argparse
import json
import signal
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PROGRESS_EVENTS = ("MEASUREMENT", "ADJUSTMENT", "DESCRIPTION")
OPTIONAL_EVENTS = ("HELLO", "GOODBYE")
SCRIPT_DONE = {"cmd": "SLEEP", "param": {"duration": 3600, "data": {"reason": "script done"}}}
OK = {"status": "ok"}
MAX_BODY = 64 * 1024 * 1024


class Script:
    """The steps, consumed in order under a lock (the server is threaded)."""

    def __init__(self, steps, done_reply=None):
        self.steps = [dict(step) for step in steps]
        self.index = 0
        self.used = 0  # requests answered by the current step (for "repeat")
        self.done_reply = done_reply or SCRIPT_DONE
        self.lock = threading.Lock()

    @staticmethod
    def is_progress(event, param):
        return event in PROGRESS_EVENTS and isinstance(param, dict) and "progress" in param

    @staticmethod
    def matches(step, event, progress):
        expect = step.get("expect")
        if progress:
            return expect == "progress"
        return expect in (None, "*", event)

    def answer(self, event, param):
        """(step index or None, step) for one request."""
        progress = self.is_progress(event, param)
        with self.lock:
            if self.index < len(self.steps):
                step = self.steps[self.index]
                if self.matches(step, event, progress):
                    index = self.index
                    self.used += 1
                    if self.used >= int(step.get("repeat", 1)):
                        self.index += 1
                        self.used = 0
                    return index, step
                if progress or event in OPTIONAL_EVENTS:
                    return None, {"reply": OK}
                expected = step.get("expect")
                reason = f'Out of order event "{event}", expected "{expected}"; ignoring'
                print(f"fake optimizer: {reason}", file=sys.stderr, flush=True)
                return None, {"reply": {"status": "unexpected-event", "reason": reason}}
        if event == "WHATS_NEXT":
            return None, {"reply": self.done_reply}
        return None, {"reply": OK}


class RequestLog:
    def __init__(self, path):
        self.file = open(path, "a", encoding="utf-8") if path else None
        self.lock = threading.Lock()

    def write(self, record):
        if self.file is None:
            return
        with self.lock:
            self.file.write(json.dumps(record) + "\n")
            self.file.flush()


def expected_auth(token):
    """(header name, value) a servo sends for `token`."""
    if token.startswith("X-SF-Token "):
        return "x-sf-token", token[len("X-SF-Token "):]
    if token.startswith("Bearer "):
        return "authorization", token
    return "authorization", "Bearer " + token


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the real optimizer
    server_version = "fake-optimizer/1"

    def log_message(self, format, *args):  # quiet: the request log is the record
        pass

    def do_GET(self):
        self.send_json(405, {"detail": "Method Not Allowed"})

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(min(length, MAX_BODY)) if length > 0 else b""
        record = {
            "time": time.time(),
            "client": "%s:%d" % self.client_address[:2],
            "method": self.command,
            "path": self.path,
            "headers": {name.lower(): value for name, value in self.headers.items()},
            "body": None,
            "status": None,
            "step": None,
        }
        try:
            body = json.loads(raw.decode("utf-8"))
            record["body"] = body
        except (UnicodeDecodeError, ValueError):
            body = None
            record["raw"] = raw.decode("utf-8", "replace")
        if not self.authorized():
            record["status"] = 401
            self.server.request_log.write(record)
            self.send_json(401, {"detail": "invalid token"})
            return
        if not isinstance(body, dict) or not isinstance(body.get("event"), str):
            record["status"] = 400
            self.server.request_log.write(record)
            self.send_json(400, {"detail": "expected {\"event\", \"param\", \"servo_uid\"}"})
            return
        index, step = self.server.script.answer(body["event"], body.get("param"))
        record["step"] = index
        if not step.get("close"):
            record["status"] = int(step.get("status", 200))
        self.server.request_log.write(record)
        self.perform(step)

    def authorized(self):
        token = self.server.token
        if not token:
            return True
        name, value = expected_auth(token)
        return self.headers.get(name) == value

    def perform(self, step):
        delay = float(step.get("delay", 0))
        if delay > 0:
            time.sleep(delay)
        if step.get("close"):
            self.reset()
            return
        status = int(step.get("status", 200))
        if "body" in step:
            payload = step["body"].encode("utf-8")
        elif "reply" in step or status < 400:
            payload = json.dumps(step.get("reply", OK)).encode("utf-8")
        else:
            payload = json.dumps({"detail": self.responses.get(status, ("error",))[0]}).encode()
        self.send_payload(status, payload, truncate=bool(step.get("truncate")),
                          trickle=float(step.get("trickle", 0)))

    def reset(self):
        """Closes the connection with a TCP reset, without answering."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass

    def send_json(self, status, value):
        self.send_payload(status, json.dumps(value).encode("utf-8"))

    def send_payload(self, status, payload, truncate=False, trickle=0.0):
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if trickle > 0:
                for i in range(len(payload)):
                    self.wfile.write(payload[i : i + 1])
                    self.wfile.flush()
                    time.sleep(trickle)
                return
            if truncate:
                self.wfile.write(payload[: len(payload) // 2])
                self.wfile.flush()
                self.reset()
                return
            self.wfile.write(payload)
        except OSError:
            self.close_connection = True


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return  # the servo went away (it gave up on a reply, or was cancelled)
        super().handle_error(request, client_address)


def parse_value(text):
    try:
        return json.loads(text)
    except ValueError:
        return text


def sequence_steps(args):
    """The SequencedOptimizer script: DESCRIBE, MEASURE, ADJUST (xN), then SLEEP."""
    counter = iter(range(1, 1_000_000))

    def command(cmd, param):
        reply = {"cmd": cmd, "cmd_uid": None, "param": param}
        if args.cmd_uids:
            reply["cmd_uid"] = f"cmd-{next(counter)}"
        return reply

    components = {}
    for item in args.adjust:
        target, _, value = item.partition("=")
        component, _, setting = target.rpartition(".")
        if not component or not setting or not value:
            raise SystemExit(f"--adjust expects COMPONENT.SETTING=VALUE, got {item!r}")
        components.setdefault(component, {"settings": {}})["settings"][setting] = {
            "value": parse_value(value)}
    metrics = [m for m in args.metrics.split(",") if m]
    measure = {"metrics": metrics,
               "control": {"duration": args.measure_duration, "warmup": args.warmup,
                           "delay": args.delay}}
    adjust = {"state": {"application": {"components": components}},
              "control": {"settlement": args.settlement}}
    steps = [{"expect": "WHATS_NEXT", "reply": command("DESCRIBE", {})},
             {"expect": "DESCRIPTION"}]
    for _ in range(args.cycles):
        steps += [{"expect": "WHATS_NEXT", "reply": command("MEASURE", measure)},
                  {"expect": "MEASUREMENT"},
                  {"expect": "WHATS_NEXT", "reply": command("ADJUST", adjust)},
                  {"expect": "ADJUSTMENT"}]
    done = {"cmd": "SLEEP", "param": {"duration": args.sleep,
                                      "data": {"reason": "optimization complete"}}}
    return steps, done


def load_script(path):
    with open(path, encoding="utf-8") as f:
        steps = json.load(f)
    if not isinstance(steps, list) or not all(isinstance(s, dict) for s in steps):
        raise SystemExit(f"{path}: the script must be a JSON list of objects")
    return steps


def parse_args(argv):
    p = argparse.ArgumentParser(description="A scriptable fake Opsani optimizer")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0: a free port")
    p.add_argument("--script", help="a JSON list of steps")
    p.add_argument("--log", help="append one JSON line per request to this file")
    p.add_argument("--token", help="require this token")
    p.add_argument("--sequence", action="store_true",
                   help="DESCRIBE -> MEASURE -> ADJUST -> SLEEP, without a script")
    p.add_argument("--metrics", default="throughput,error_rate")
    p.add_argument("--measure-duration", type=float, default=5.0)
    p.add_argument("--warmup", type=float, default=0.0)
    p.add_argument("--delay", type=float, default=0.0)
    p.add_argument("--adjust", action="append", default=[],
                   metavar="COMPONENT.SETTING=VALUE")
    p.add_argument("--settlement", type=float, default=0.0)
    p.add_argument("--cycles", type=int, default=1)
    p.add_argument("--sleep", type=int, default=60, help="the final SLEEP duration")
    p.add_argument("--cmd-uids", action="store_true", help='send cmd_uid "cmd-N"')
    args = p.parse_args(argv)
    if args.sequence == bool(args.script):
        p.error("give either --script or --sequence")
    return args


def main(argv):
    args = parse_args(argv)
    if args.sequence:
        steps, done = sequence_steps(args)
    else:
        steps, done = load_script(args.script), None
    server = Server((args.host, args.port), Handler)
    server.script = Script(steps, done)
    server.request_log = RequestLog(args.log)
    server.token = args.token

    def stop(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    host, port = server.server_address[:2]
    print(f"listening on http://{host}:{port}", flush=True)
    try:
        server.serve_forever(poll_interval=0.1)
    except SystemExit:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
