#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Docs that work (tests/tools/doc_commands.py): every shell block of README.md, docs/*.md and
# examples/*/README.md marked `test` runs and succeeds with the servo under test, every other
# one says why it is not run (`no-test: REASON`), and every example servo.yaml validates
# (`no-validate: REASON` for manifests and fragments). Then the checker itself is shown to
# refuse an unmarked block, a failing command and an invalid example.
#
# Environment (set by ctest): SERVO_BIN, SERVO_SOURCE_DIR. Needs python3 and jq (a README
# command pipes into jq).
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_tools python3 jq
: "${SERVO_SOURCE_DIR:?}"
scratch_dir servo-docs
clean_env

checker=$SERVO_SOURCE_DIR/tests/tools/doc_commands.py

step "the repository's docs"
set +e
python3 "$checker" --servo "$SERVO_BIN" --source "$SERVO_SOURCE_DIR" >report 2>&1
rc=$?
set -e
cat report
check equals "$rc" 0
check grep -q " 0 failures" report

step "the checker refuses what it must"
mkdir -p fake/docs fake/examples fake/scripts fake/tests
cp "$SERVO_SOURCE_DIR/tests/fake_optimizer.py" fake/tests/
cat >fake/README.md <<'MD'
```sh
servo version
```

```
$ servo version
```

```sh test
servo no-such-command
```

```sh no-test:
servo version
```

```yaml
vegeta: {rate: fifty}
```
MD
set +e
python3 "$checker" --servo "$SERVO_BIN" --source fake >report 2>&1
rc=$?
set -e
cat report
check equals "$rc" 1
check grep -q 'README.md:1: a ```sh block must be marked' report
check grep -q 'README.md:5: a block with "\$ " commands must be a ```console block' report
check grep -q 'README.md:9: exit 2' report
check grep -q 'README.md:13: a ```sh block must be marked' report
check grep -q 'README.md:17: the example configuration does not validate' report
check grep -q ' 5 failures' report

passed
