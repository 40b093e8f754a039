#!/usr/bin/env python3
"""Checks the JSON Schemas `servo schema` emits with a real validator (python3-jsonschema).

    check_schema.py meta SCHEMA...
        Each SCHEMA must be a valid draft 2020-12 schema: checked against the meta-schema, with
        every "pattern" compiled, and every "default" valid against the schema it sits in.
    check_schema.py valid SCHEMA [--key INSTANCE] CONFIG...
        Every document of every CONFIG (YAML or JSON) must validate against SCHEMA; with
        --key, the value at that top-level key does (a connector's stanza against the
        connector's own schema).
    check_schema.py invalid SCHEMA [--key INSTANCE] CONFIG...
        Every document must be rejected.
    check_schema.py batch FILE
        Each line of FILE is one of the commands above, its words separated by tabs: all run
        in this one process (importing jsonschema once), each failing line is named.

Prints one line per problem and exits 1 if there was any.
"""

import json
import re
import sys

import jsonschema
import yaml

# Formats whose JSON Schema meaning is the servo's: "uri" and "regex". The servo's "duration"
# (Go style, 15s or 2h45m), "cpu" and "memory" are not the ISO 8601 "duration" of draft 2020-12
# or registered formats, so they stay annotations.
FORMATS = jsonschema.FormatChecker(formats=["uri", "regex"])
Validator = jsonschema.Draft202012Validator

problems = []


def problem(text):
    problems.append(text)
    print("  problem: " + text)


def load_schema(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def load_documents(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if path.endswith(".json"):
        value = json.loads(text)
        return value if isinstance(value, list) else [value]
    return [d if d is not None else {} for d in yaml.safe_load_all(text)]


def where(error):
    return "/" + "/".join(str(p) for p in error.absolute_path)


SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
SCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
SCHEMA_VALUES = ("additionalProperties", "items", "not", "if", "then", "else", "contains",
                 "propertyNames", "unevaluatedProperties", "unevaluatedItems")


def walk(node, pointer=""):
    """Yields (pointer, subschema) for every schema object in `node`, following the keywords
    whose values are schemas."""
    if not isinstance(node, dict):
        return
    yield pointer, node
    for key in SCHEMA_MAPS:
        for name, value in node.get(key, {}).items():
            yield from walk(value, "%s/%s/%s" % (pointer, key, name))
    for key in SCHEMA_LISTS:
        for i, value in enumerate(node.get(key, [])):
            yield from walk(value, "%s/%s/%d" % (pointer, key, i))
    for key in SCHEMA_VALUES:
        if key in node:
            yield from walk(node[key], "%s/%s" % (pointer, key))


def check_meta(paths):
    for path in paths:
        print("meta " + path)
        schema = load_schema(path)
        if schema.get("$schema") != "https://json-schema.org/draft/2020-12/schema":
            problem("%s: $schema is %r" % (path, schema.get("$schema")))
        try:
            Validator.check_schema(schema)
        except jsonschema.exceptions.SchemaError as e:
            problem("%s: %s at %s" % (path, e.message, "/".join(map(str, e.absolute_path))))
            continue
        meta = Validator(Validator.META_SCHEMA, format_checker=FORMATS)
        for e in meta.iter_errors(schema):
            problem("%s: %s at /%s" % (path, e.message, "/".join(map(str, e.absolute_path))))
        for pointer, sub in walk(schema):
            if "pattern" in sub and isinstance(sub["pattern"], str):
                try:
                    re.compile(sub["pattern"])
                except re.error as e:
                    problem("%s%s: pattern does not compile: %s" % (path, pointer, e))
            if "default" in sub:
                rest = {k: v for k, v in sub.items() if k != "default"}
                rest.pop("title", None)
                for e in Validator(rest, format_checker=FORMATS).iter_errors(sub["default"]):
                    problem("%s%s: the default %r is invalid: %s"
                            % (path, pointer, sub["default"], e.message))


def check_configs(schema_path, paths, want_valid, key=None):
    validator = Validator(load_schema(schema_path), format_checker=FORMATS)
    for path in paths:
        for n, document in enumerate(load_documents(path), 1):
            if key is not None and key not in document:
                problem("%s (document %d): no %r" % (path, n, key))
                continue
            value = document[key] if key is not None else document
            name = "%s (document %d%s)" % (path, n, ", " + key if key else "")
            errors = sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path))
            if want_valid:
                print("valid   " + name + " against " + schema_path)
                for e in errors:
                    problem("%s: %s: %s" % (name, where(e), e.message))
            else:
                print("invalid " + name + " against " + schema_path
                      + (": " + errors[0].message if errors else ""))
                if not errors:
                    problem("%s: accepted by %s" % (name, schema_path))


def batch(path):
    failed = 0
    with open(path, encoding="utf-8") as f:
        for line in f:
            words = line.rstrip("\n").split("\t")
            before = len(problems)
            if main(words) == 2 or len(problems) > before:
                failed += 1
                print("FAIL: check_schema.py " + " ".join(words))
    return 1 if failed else 0


def main(argv):
    if len(argv) == 2 and argv[0] == "batch":
        return batch(argv[1])
    if len(argv) < 2 or argv[0] not in ("meta", "valid", "invalid"):
        print(__doc__, file=sys.stderr)
        return 2
    if argv[0] == "meta":
        check_meta(argv[1:])
    else:
        schema, rest, key = argv[1], argv[2:], None
        if rest[:1] == ["--key"]:
            key, rest = rest[1], rest[2:]
        check_configs(schema, rest, argv[0] == "valid", key)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
