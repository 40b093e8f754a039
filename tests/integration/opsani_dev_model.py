# SPDX-License-Identifier: Apache-2.0
"""The load model of test_opsani_dev_session.sh: plays Envoy and the tuning pod's kubelet.

Every 0.5 s it lists the pods of NAMESPACE and, for each, reads the requests of its container
"web": cpu in cores, mem in GiB. Each pod serves 400 * min(cpu, 1) * mem / (mem + 0.25)
requests a second, pushed to the Pushgateway as the Envoy counter
envoy_cluster_upstream_rq_total (one group per role, replaced at each push: Prometheus's rate
is the current pod's alone) with envoy_cluster_membership_healthy. A tuning pod with less than
400m of CPU crash-loops (the fake kubelet's crashloop mode, written once per pod), else it is made
ready. Arguments: SERVER CA NAMESPACE PUSHGATEWAY KUBERNETES_SH RUNDIR; the token in
$MODEL_TOKEN."""
import json
import os
import ssl
import subprocess
import sys
import time
import urllib.request

server, ca, ns, push, kubelet, rundir = sys.argv[1:7]
token = os.environ["MODEL_TOKEN"]
context = ssl.create_default_context(cafile=ca)


def api(path):
    request = urllib.request.Request(server + path, headers={"Authorization": "Bearer " + token})
    with urllib.request.urlopen(request, context=context, timeout=10) as response:
        return json.load(response)


def cores(quantity):
    return float(quantity[:-1]) / 1000 if quantity.endswith("m") else float(quantity)


def gib(quantity):
    for unit, factor in (("Ki", 2**10), ("Mi", 2**20), ("Gi", 2**30), ("k", 1e3), ("M", 1e6), ("G", 1e9)):
        if quantity.endswith(unit):
            return float(quantity[: -len(unit)]) * factor / 2**30
    return float(quantity) / 2**30


def push_metrics(role, pod, count):
    name, uid = pod["metadata"]["name"], pod["metadata"]["uid"]
    labels = f'opsani_role="{role}",kubernetes_namespace="{ns}",kubernetes_pod_name="{name}"'
    body = (
        "# TYPE envoy_cluster_upstream_rq_total counter\n"
        f'envoy_cluster_upstream_rq_total{{{labels},pod_uid="{uid}"}} {count:.3f}\n'
        "# TYPE envoy_cluster_membership_healthy gauge\n"
        f"envoy_cluster_membership_healthy{{{labels}}} 1\n"
    )
    request = urllib.request.Request(
        f"{push}/metrics/job/envoy-{ns}/instance/{role}", data=body.encode(), method="PUT"
    )
    urllib.request.urlopen(request, timeout=10).read()


def main():
    starts, modes = {}, {}
    while True:
        try:
            pods = api(f"/api/v1/namespaces/{ns}/pods")["items"]
        except Exception as error:  # the API server is busy: try again
            print("list failed:", error, flush=True)
            time.sleep(0.5)
            continue
        for pod in pods:
            if pod["metadata"].get("deletionTimestamp"):
                continue
            labels = pod["metadata"].get("labels", {})
            role = "tuning" if labels.get("opsani_role") == "tuning" else "main"
            app = next((c for c in pod["spec"]["containers"] if c["name"] == "web"), None)
            if app is None:
                continue
            requests = app.get("resources", {}).get("requests", {})
            cpu, mem = cores(requests.get("cpu", "0")), gib(requests.get("memory", "0"))
            uid = pod["metadata"]["uid"]
            if role == "tuning":
                mode = "crashloop" if cpu < 0.4 else "ready"
                if modes.get(uid) != mode:
                    subprocess.run(
                        [kubelet, "kubelet", rundir, ns, "--once", "--mode", mode,
                         "--selector", "opsani_role=tuning"],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
                    modes[uid] = mode
                    print(f"tuning pod {uid[:8]}: cpu {cpu} mem {mem:.3f} -> {mode}", flush=True)
                if mode != "ready":
                    continue
            start = starts.setdefault(uid, time.time())
            rate = 400 * min(cpu, 1.0) * mem / (mem + 0.25)
            try:
                push_metrics(role, pod, rate * (time.time() - start))
            except Exception as error:
                print("push failed:", error, flush=True)
        time.sleep(0.5)


main()
