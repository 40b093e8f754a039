#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Renders a kustomization as `kubectl kustomize DIR` would, for the subset deploy/ uses (the
test machine has no kubectl): resources (files, or directories with their own
kustomization.yaml), namespace (set on every namespaced object and on the ServiceAccount
subjects of RoleBindings), configMapGenerator (files and literals) with generatorOptions
(labels; disableNameSuffixHash must be true). Anything else in a kustomization is an error, so
that the test cannot pass over a field it does not render.

    kustomize_render.py DIR      # one JSON object per line on stdout
"""

import json
import os
import sys

import yaml

KNOWN = {"apiVersion", "kind", "namespace", "resources", "configMapGenerator", "generatorOptions"}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition",
                  "PersistentVolume", "StorageClass", "APIService"}


def fail(message):
    sys.exit(f"kustomize_render: {message}")


def config_maps(directory, k):
    options = k.get("generatorOptions", {})
    if options.get("disableNameSuffixHash") is not True:
        fail(f"{directory}: only generators with disableNameSuffixHash: true are rendered")
    for generator in k.get("configMapGenerator", []):
        data = {}
        for name in generator.get("files", []):
            with open(os.path.join(directory, name)) as f:
                data[os.path.basename(name)] = f.read()
        for literal in generator.get("literals", []):
            key, _, value = literal.partition("=")
            data[key] = value
        metadata = {"name": generator["name"]}
        if options.get("labels"):
            metadata["labels"] = dict(options["labels"])
        yield {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": data}


def render(directory):
    path = os.path.join(directory, "kustomization.yaml")
    with open(path) as f:
        k = yaml.safe_load(f)
    unknown = set(k) - KNOWN
    if unknown:
        fail(f"{path}: cannot render {', '.join(sorted(unknown))}")
    objects = []
    for resource in k.get("resources", []):
        target = os.path.normpath(os.path.join(directory, resource))
        if os.path.isdir(target):
            objects.extend(render(target))
        else:
            with open(target) as f:
                objects.extend(doc for doc in yaml.safe_load_all(f) if doc)
    if "configMapGenerator" in k:
        objects.extend(config_maps(directory, k))
    namespace = k.get("namespace")
    if namespace:
        for o in objects:
            if o["kind"] not in CLUSTER_SCOPED:
                o["metadata"]["namespace"] = namespace
            if o["kind"] == "RoleBinding":
                for subject in o.get("subjects", []):
                    if subject.get("kind") == "ServiceAccount":
                        subject["namespace"] = namespace
    return objects


def main():
    if len(sys.argv) != 2:
        fail("usage: kustomize_render.py DIR")
    for o in render(sys.argv[1]):
        print(json.dumps(o))


if __name__ == "__main__":
    main()
