#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# How scripts/image.sh and scripts/package.sh fail: a missing tool is named with its Debian
# package; a failing step is named with the log's path; and what a previous run built (the
# archive, the tags, the packages) is left as it was, with no temporary file, directory or
# image tag behind. Each case runs the real script from a small copy of the tree (scripts/,
# debian/, CMakeLists.txt and a Dockerfile or CMake file broken on purpose), so it is quick.
#
#   tests/packaging/test_failures.sh [image] [package]     (default: both)
#
# The image case needs root and the cached base images (scripts/image.sh makes them).
# shellcheck disable=SC2016 # the sh -c scripts' $1 belongs to the inner shell
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/packaging/lib.sh
source "$here/lib.sh"

work=$(mktemp -d /var/tmp/servo-failures-test.XXXXXX)
ship_temps+=("$work")

# A copy of what the scripts read, in $work/NAME; prints its path.
small_tree()
{
    local tree=$work/$1
    mkdir -p "$tree/src/cli" "$tree/build"
    cp -r "$ship_root/scripts" "$ship_root/debian" "$ship_root/CMakeLists.txt" "$tree/"
    cp "$ship_root/src/cli/cli.h" "$tree/src/cli/"
    printf '%s\n' "$tree"
}

# expect_failure NAME PATTERN COMMAND...: COMMAND exits non-zero and says PATTERN (ERE).
expect_failure()
{
    local name=$1 pattern=$2 out rc=0
    shift 2
    out=$("$@" 2>&1) || rc=$?
    if ((rc != 0)) && grep -Eq -- "$pattern" <<<"$out"; then
        pass "$name (exit $rc)"
    else
        fail "$name (exit $rc, wanted non-zero and /$pattern/)"
        printf '%s\n' "$out" | tail -n 20 | sed 's/^/      /'
    fi
}

# A PATH with the basic tools but none of TOOLS (every other command of /usr/bin is linked).
path_without()
{
    local bin=$work/bin-without-$1 tool
    mkdir -p "$bin"
    # One ln for all (names in both directories: the /usr/bin one is kept).
    ln -s /usr/bin/* "$bin/"
    ln -s /usr/sbin/* "$bin/" 2>/dev/null || true
    for tool in "$@"; do
        rm -f "$bin/$tool"
    done
    printf '%s\n' "$bin"
}

case_image()
{
    echo "== scripts/image.sh"
    local tree
    tree=$(small_tree image)
    expect_failure "image.sh names the missing tool and its package" \
        'missing tools: podman \(Debian package podman\)' \
        env PATH="$(path_without podman podman)" "$tree/scripts/image.sh"

    ((EUID == 0)) || {
        fail "the failing-build case needs root"
        return
    }
    printf 'FROM docker.io/library/debian:bookworm-slim\nRUN echo broken on purpose; false\n' \
        >"$tree/Dockerfile"
    echo "a previous archive" >"$tree/build/servo-image.tar"
    local before after
    before=$(podman images --noheading --format '{{.Repository}}:{{.Tag}} {{.ID}}' | sort)
    expect_failure "image.sh names the failed step and its log" \
        "step \"podman build .*\" failed; the log is $tree/build/logs/image.log" \
        env SERVO_IMAGE_ARCHIVE="$tree/build/servo-image.tar" "$tree/scripts/image.sh"
    expect_output "the log has the build's output" 'broken on purpose' cat "$tree/build/logs/image.log"
    after=$(podman images --noheading --format '{{.Repository}}:{{.Tag}} {{.ID}}' | sort)
    if [[ $before == "$after" ]]; then
        pass "the image tags are as they were (no scratch tag left)"
    else
        fail "the image tags are as they were"
        diff <(echo "$before") <(echo "$after") | sed 's/^/      /'
    fi
    expect_output "the previous archive is untouched" '^a previous archive$' cat "$tree/build/servo-image.tar"
    check "no temporary archive left" sh -c '! ls "$1"/build/servo-image.tar.tmp.* 2>/dev/null' sh "$tree"
}

case_package()
{
    echo "== scripts/package.sh"
    local tree
    tree=$(small_tree package)
    expect_failure "package.sh names the missing tool and its package" \
        'missing tools: lintian \(Debian package lintian\)' \
        env PATH="$(path_without lintian lintian)" "$tree/scripts/package.sh"

    sed -i '1s/([^)]*)/(9.9.9)/' "$tree/debian/changelog"
    expect_failure "package.sh refuses a changelog that is not at the CMake version" \
        'debian/changelog is at 9\.9\.9 but CMakeLists.txt says' "$tree/scripts/package.sh"
    cp "$ship_root/debian/changelog" "$tree/debian/changelog"

    echo 'message(FATAL_ERROR "broken on purpose")' >>"$tree/CMakeLists.txt"
    mkdir -p "$tree/build/packages"
    echo "a previous package" >"$tree/build/packages/servo_0_amd64.deb"
    expect_failure "package.sh names the failed step and its log" \
        "step \"dpkg-buildpackage .*\" failed; the log is $tree/build/logs/package.log" \
        "$tree/scripts/package.sh"
    expect_output "the log has the build's output" 'broken on purpose' cat "$tree/build/logs/package.log"
    expect_output "the previous package is untouched" '^a previous package$' \
        cat "$tree/build/packages/servo_0_amd64.deb"
    check "no build directory left" sh -c '[ -z "$(ls -A "$1/build/package-src" 2>/dev/null)" ]' sh "$tree"
    check "no staged package left" sh -c '! ls -A "$1"/build/packages/.staged.* 2>/dev/null' sh "$tree"
}

cases=("$@")
((${#cases[@]})) || cases=(image package)
for c in "${cases[@]}"; do
    declare -F "case_$c" >/dev/null || ship_die "unknown case \"$c\" (cases: image package)"
    "case_$c"
done
finish
