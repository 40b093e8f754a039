#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Docs that work: every command block of README.md, docs/*.md and examples/*/README.md is run,
and every example servo.yaml is validated.

    doc_commands.py --servo BIN --source DIR [--list]

The info string of a fenced block says what to do with it (GitHub shows only its first word):

    ```sh test                 run it: bash -euo pipefail, in a scratch directory holding a
    ```console test            copy of examples/, scripts/ and tests/fake_optimizer.py, with
                               `servo` (and build/servo) the servo under test; a console
                               block runs its "$ " lines
    ```sh no-test: REASON      not run, for the reason given (a reason is required)
    ```yaml                    written as servo.yaml and `servo validate`d
    ```yaml no-validate: REASON  not a servo.yaml (a manifest, a fragment, optimizer.yaml)

A shell block (sh, bash, shell, console) without `test` or `no-test: REASON`, or a block of
another kind with "$ " command lines, fails the test: a doc cannot show a command that no
test runs. Blocks are reported as FILE:LINE.
"""

import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

SHELLS = {"sh", "bash", "shell", "console"}


def blocks(path):
    """(line, language, tags, body lines) of each fenced block."""
    with open(path) as f:
        lines = f.read().split("\n")
    found, inside = [], None
    for number, line in enumerate(lines, 1):
        m = re.match(r"^\s*```(.*)$", line)
        if m and inside is None:
            info = m.group(1).strip()
            lang, _, tags = info.partition(" ")
            inside = (number, lang, tags.strip(), [])
        elif m and inside is not None:
            found.append(inside)
            inside = None
        elif inside is not None:
            inside[3].append(line)
    return found


def reason(tags, word):
    m = re.search(word + r":\s*(\S.*)$", tags)
    return m.group(1) if m else None


def commands(lang, body):
    if lang == "console":
        return [l[2:] for l in body if l.startswith("$ ")]
    return body


def scratch_copy(source, servo):
    work = tempfile.mkdtemp(prefix="servo-docs-")
    for d in ("examples", "scripts"):
        shutil.copytree(os.path.join(source, d), os.path.join(work, d), symlinks=True,
                        ignore=shutil.ignore_patterns("state.json", "*.db"))
    os.makedirs(os.path.join(work, "tests"))
    shutil.copy(os.path.join(source, "tests/fake_optimizer.py"), os.path.join(work, "tests"))
    os.makedirs(os.path.join(work, "build"))
    os.symlink(servo, os.path.join(work, "build", "servo"))
    return work


def run_block(where, lang, body, source, servo, env):
    work = scratch_copy(source, servo)
    try:
        script = "\n".join(commands(lang, body)) + "\n"
        p = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=work, env=env,
                           capture_output=True, text=True, timeout=240)
        if p.returncode != 0:
            return (f"{where}: exit {p.returncode}\n--- script\n{script}--- stdout\n"
                    f"{p.stdout[-3000:]}--- stderr\n{p.stderr[-3000:]}")
        return None
    finally:
        shutil.rmtree(work, ignore_errors=True)


def validate_block(where, body, servo, env):
    work = tempfile.mkdtemp(prefix="servo-docs-yaml-")
    try:
        with open(os.path.join(work, "servo.yaml"), "w") as f:
            f.write("\n".join(body) + "\n")
        p = subprocess.run([servo, "validate"], cwd=work, env=env, capture_output=True,
                           text=True, timeout=60)
        if p.returncode != 0:
            return f"{where}: the example configuration does not validate:\n{p.stderr}"
        return None
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--servo", required=True)
    p.add_argument("--source", required=True)
    p.add_argument("--list", action="store_true", help="only check the marks")
    args = p.parse_args()
    servo = os.path.abspath(args.servo)
    source = os.path.abspath(args.source)
    bindir = tempfile.mkdtemp(prefix="servo-docs-bin-")
    os.symlink(servo, os.path.join(bindir, "servo"))
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SERVO_", "OPSANI_")) and k != "NO_COLOR"}
    env.update(PATH=bindir + os.pathsep + env.get("PATH", ""), NO_COLOR="1",
               SERVO_PLUGIN_PATH="", TOKEN="doc-example-token")
    files = ["README.md"] + sorted(glob.glob(os.path.join(source, "docs", "*.md"))) + \
        sorted(glob.glob(os.path.join(source, "examples", "*", "README.md")))
    errors, ran, validated, exempt = [], 0, 0, 0
    for path in files:
        full = path if os.path.isabs(path) else os.path.join(source, path)
        name = os.path.relpath(full, source)
        for line, lang, tags, body in blocks(full):
            where = f"{name}:{line}"
            if lang in SHELLS:
                if reason(tags, "no-test"):
                    exempt += 1
                elif re.search(r"(^|\s)test(\s|$)", tags):
                    ran += 1
                    if not args.list:
                        error = run_block(where, lang, body, source, servo, env)
                        if error:
                            errors.append(error)
                else:
                    errors.append(f"{where}: a ```{lang} block must be marked `test` or "
                                  f"`no-test: REASON`")
            elif lang.startswith("yaml"):
                if reason(tags, "no-validate"):
                    exempt += 1
                else:
                    validated += 1
                    if not args.list:
                        error = validate_block(where, body, servo, env)
                        if error:
                            errors.append(error)
            elif any(l.startswith("$ ") for l in body):
                errors.append(f"{where}: a block with \"$ \" commands must be a ```console "
                              f"block marked `test` or `no-test: REASON`")
    shutil.rmtree(bindir, ignore_errors=True)
    for e in errors:
        print("FAIL: " + e)
    print(f"doc commands: {ran} blocks run, {validated} configurations validated, "
          f"{exempt} exempt with a reason, {len(errors)} failures")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
