#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A test metrics server: serves metrics.k8s.io/v1beta1 behind the real kube-apiserver's
aggregation layer, as metrics-server does. Started by `tests/services/kubernetes.sh
metrics-server RUNDIR`, which registers it (Service, Endpoints, APIService).

  metrics_server.py --listen ADDR:PORT --cert CRT --key KEY --client-ca FRONT_PROXY_CA
                    --api URL --token-file FILE --ca CA --fixture POD_METRICS_LIST_JSON

TLS with the certificate given; a client certificate signed by the front-proxy CA is
required (the API server's proxy client), and the user it names comes in X-Remote-User, as
with metrics-server. Answers:
  /apis/metrics.k8s.io/v1beta1                 the APIResourceList (discovery; the API
                                               server's availability check asks for it)
  /apis/metrics.k8s.io/v1beta1/namespaces/NS/pods[?labelSelector=S]   PodMetricsList
  /apis/metrics.k8s.io/v1beta1/namespaces/NS/pods/NAME                PodMetrics (404 if none)
  /apis/metrics.k8s.io/v1beta1/nodes           an empty NodeMetricsList (no nodes here)
The pods are read from the real API server (the same label selector); a pod is reported once
it is Running (the fake kubelet marks it). Each container's usage follows its resources:
CPU usage is half its CPU request (else limit, else 100m), memory usage 60 % of its memory
request (else limit, else 64Mi), in metrics-server's units (nanocores "n", "Ki"), filled into
the recorded answer's shape (tests/fixtures/metrics-server/pod_metrics_list.json)."""
import argparse
import copy
import datetime
import http.server
import json
import re
import ssl
import sys
import urllib.parse
import urllib.request

GROUP_VERSION = "metrics.k8s.io/v1beta1"
BASE = "/apis/" + GROUP_VERSION
CPU_SHARE = 0.5
MEMORY_SHARE = 0.6

SUFFIXES = {"n": 1e-9, "u": 1e-6, "m": 1e-3, "": 1, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
            "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}


def quantity(text):
    match = re.fullmatch(r"([0-9.]+(?:[eE][-+]?[0-9]+)?)(n|u|m|k|M|G|T|Ki|Mi|Gi|Ti)?", text)
    if not match:
        raise ValueError(f"not a quantity: {text}")
    return float(match.group(1)) * SUFFIXES[match.group(2) or ""]


def resource(container, name, default):
    resources = container.get("resources") or {}
    for which in ("requests", "limits"):
        value = (resources.get(which) or {}).get(name)
        if value is not None:
            return quantity(value)
    return quantity(default)


def now_text():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Backend:
    def __init__(self, args):
        self.api = args.api.rstrip("/")
        self.token_file = args.token_file
        self.context = ssl.create_default_context(cafile=args.ca)
        with open(args.fixture, encoding="utf-8") as f:
            self.shape = json.load(f)

    def get(self, path):
        with open(self.token_file, encoding="utf-8") as f:
            token = f.read().strip()
        request = urllib.request.Request(self.api + path,
                                         headers={"Authorization": "Bearer " + token})
        with urllib.request.urlopen(request, context=self.context, timeout=10) as response:
            return json.load(response)

    def pods(self, namespace, selector):
        query = "?labelSelector=" + urllib.parse.quote(selector) if selector else ""
        items = self.get(f"/api/v1/namespaces/{namespace}/pods{query}")["items"]
        return [p for p in items
                if p.get("status", {}).get("phase") == "Running"
                and not p["metadata"].get("deletionTimestamp")]

    def pod_metrics(self, pod):
        item = copy.deepcopy(self.shape["items"][0])
        container_shape = item["containers"][0]
        metadata = pod["metadata"]
        item["metadata"] = {key: metadata[key] for key in
                            ("name", "namespace", "creationTimestamp", "labels")
                            if key in metadata}
        item["timestamp"] = now_text()
        item["containers"] = []
        for container in pod["spec"]["containers"]:
            entry = copy.deepcopy(container_shape)
            entry["name"] = container["name"]
            cpu = resource(container, "cpu", "100m") * CPU_SHARE
            memory = resource(container, "memory", "64Mi") * MEMORY_SHARE
            entry["usage"] = {"cpu": f"{round(cpu * 1e9)}n", "memory": f"{round(memory / 1024)}Ki"}
            item["containers"].append(entry)
        item["apiVersion"] = GROUP_VERSION
        item["kind"] = "PodMetrics"
        return item


def discovery():
    def resource_entry(name, kind, namespaced):
        return {"name": name, "singularName": "", "namespaced": namespaced, "kind": kind,
                "verbs": ["get", "list"]}
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": GROUP_VERSION,
            "resources": [resource_entry("nodes", "NodeMetrics", False),
                          resource_entry("pods", "PodMetrics", True)]}


def status(code, reason, message):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


class Handler(http.server.BaseHTTPRequestHandler):
    backend = None
    protocol_version = "HTTP/1.1"

    def reply(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802 (the stdlib's name)
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        path = url.path.rstrip("/")
        try:
            if path == BASE:
                return self.reply(200, discovery())
            if path == BASE + "/nodes":
                return self.reply(200, {"kind": "NodeMetricsList", "apiVersion": GROUP_VERSION,
                                        "metadata": {}, "items": []})
            match = re.fullmatch(re.escape(BASE) + r"/namespaces/([^/]+)/pods(?:/([^/]+))?",
                                 path)
            if not match:
                return self.reply(404, status(404, "NotFound", f"no such path: {url.path}"))
            namespace, name = match.groups()
            selector = query.get("labelSelector", [""])[0]
            pods = self.backend.pods(namespace, selector)
            items = [self.backend.pod_metrics(p) for p in pods
                     if name is None or p["metadata"]["name"] == name]
            if name is not None:
                if not items:
                    return self.reply(404, status(404, "NotFound",
                                                  f'podmetrics.metrics.k8s.io "{name}" not found'))
                return self.reply(200, items[0])
            return self.reply(200, {"kind": "PodMetricsList", "apiVersion": GROUP_VERSION,
                                    "metadata": {}, "items": items})
        except Exception as error:  # the API server's answer or a pod we cannot read
            return self.reply(500, status(500, "InternalError", str(error)))

    def log_message(self, fmt, *args):
        user = self.headers.get("X-Remote-User", "-") if self.headers else "-"
        sys.stderr.write(f"{now_text()} {user} {fmt % args}\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for option in ("--listen", "--cert", "--key", "--client-ca", "--api", "--token-file",
                   "--ca", "--fixture"):
        parser.add_argument(option, required=True)
    args = parser.parse_args()
    host, port = args.listen.rsplit(":", 1)
    Handler.backend = Backend(args)
    server = http.server.ThreadingHTTPServer((host, int(port)), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.cert, args.key)
    context.load_verify_locations(args.client_ca)
    context.verify_mode = ssl.CERT_REQUIRED
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
