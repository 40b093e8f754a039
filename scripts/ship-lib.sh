# shellcheck shell=bash
# SPDX-License-Identifier: Apache-2.0
# Shared by scripts/image.sh, scripts/package.sh and tests/packaging/: messages, required
# tools, logged steps, the version, and the cached Debian 12 base root file systems that
# mmdebstrap makes from the Debian mirror. Source it; it defines functions and variables only.
#
# Environment:
#   SERVO_BUILD_CACHE=/var/cache/servo-build   where base tarballs and downloaded .debs are kept
#   SERVO_DEBIAN_MIRROR=http://deb.debian.org/debian
#   SERVO_DEBIAN_SECURITY=http://deb.debian.org/debian-security
#   SERVO_REFRESH_BASE=1                       make the base tarballs again (new package versions)

ship_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ship_cache=${SERVO_BUILD_CACHE:-/var/cache/servo-build}
ship_mirror=${SERVO_DEBIAN_MIRROR:-http://deb.debian.org/debian}
ship_security=${SERVO_DEBIAN_SECURITY:-http://deb.debian.org/debian-security}
ship_suite=bookworm
ship_me=$(basename "$0")
ship_log=/dev/null
# Paths removed and commands run (in reverse order) when the script exits, however it exits:
# temporary files, half-built outputs, containers.
ship_temps=()
ship_undo=()

ship_cleanup()
{
    local i
    for ((i = ${#ship_undo[@]} - 1; i >= 0; i--)); do
        eval "${ship_undo[i]}" >/dev/null 2>&1 || true
    done
    ((${#ship_temps[@]} == 0)) || rm -rf -- "${ship_temps[@]}"
}
trap ship_cleanup EXIT
trap 'exit 130' INT TERM

ship_say()
{
    printf '%s: %s\n' "$ship_me" "$*" >&2
}

ship_die()
{
    ship_say "error: $*"
    exit 1
}

# Every tool named must be on PATH; the message names the missing ones and their packages.
ship_need()
{
    local missing=() spec
    for spec in "$@"; do
        command -v "${spec%%:*}" >/dev/null || missing+=("${spec%%:*} (Debian package ${spec#*:})")
    done
    ((${#missing[@]} == 0)) || ship_die "missing tools: ${missing[*]}; install them with scripts/install-deps.sh"
}

# The version of project(servo VERSION x.y.z) in CMakeLists.txt.
ship_version()
{
    local v
    v=$(sed -nE 's/^project\(servo VERSION ([0-9][0-9.]*).*/\1/p' "$ship_root/CMakeLists.txt")
    [[ -n $v ]] || ship_die "no project(servo VERSION ...) in $ship_root/CMakeLists.txt"
    printf '%s\n' "$v"
}

# Opens the log of this run (truncated) and remembers it for ship_step.
ship_open_log()
{
    ship_log=$1
    mkdir -p "$(dirname "$ship_log")"
    : >"$ship_log"
}

# Runs one step, its output appended to the log; on failure names the step and the log and
# shows the end of it, then exits non-zero (the caller's EXIT trap cleans up).
ship_step()
{
    local name=$1
    shift
    ship_say "$name"
    printf '\n==> %s: %s\n' "$name" "$*" >>"$ship_log"
    if ! "$@" >>"$ship_log" 2>&1; then
        ship_say "error: step \"$name\" failed; the log is $ship_log, its end:"
        tail -n 25 "$ship_log" >&2
        exit 1
    fi
}

# An exclusive lock on the cache until ship_unlock_cache, so two runs at once take turns
# instead of writing the same tarball or image.
ship_lock_cache()
{
    mkdir -p "$ship_cache" || ship_die "cannot create the cache directory $ship_cache (set SERVO_BUILD_CACHE)"
    exec 9>"$ship_cache/.lock"
    flock 9
}

ship_unlock_cache()
{
    exec 9>&-
}

# The slim variant leaves out what Debian's official bookworm-slim image leaves out; the
# dpkg configuration stays in the root, so packages installed later are slimmed too.
ship_slim_options=(
    --dpkgopt='path-exclude=/usr/share/doc/*'
    --dpkgopt='path-include=/usr/share/doc/*/copyright'
    --dpkgopt='path-exclude=/usr/share/man/*'
    --dpkgopt='path-exclude=/usr/share/groff/*'
    --dpkgopt='path-exclude=/usr/share/info/*'
    --dpkgopt='path-exclude=/usr/share/lintian/*'
    --dpkgopt='path-exclude=/usr/share/linda/*'
    --dpkgopt='path-exclude=/usr/share/locale/*'
    --dpkgopt='path-include=/usr/share/locale/locale.alias'
)

# The mmdebstrap options for FLAVOUR, "bookworm" (minbase, as debian:bookworm) or
# "bookworm-slim", into ship_recipe, the sources into ship_mirrors, their hash into
# ship_recipe_id. merged-/usr comes from mmdebstrap's hook, as Debian's
# images have it, not from the usrmerge package (which would leave perl behind: 47 MB).
ship_base_recipe()
{
    local flavour=$1
    ship_recipe=(--variant=minbase --mode=root --format=tar
        --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr --aptopt='Acquire::Retries "3"')
    [[ $flavour == bookworm-slim ]] && ship_recipe+=("${ship_slim_options[@]}")
    ship_mirrors=("deb $ship_mirror $ship_suite main"
        "deb $ship_mirror $ship_suite-updates main"
        "deb $ship_security $ship_suite-security main")
    # shellcheck disable=SC2034 # read by the callers
    ship_recipe_id=$(printf '%s\n' "${ship_recipe[@]}" "$ship_suite" "${ship_mirrors[@]}" |
        sha256sum | cut -c1-12)
}

# Sets ship_tarball to the path of a cached Debian 12 root tarball, made first when missing:
# FLAVOUR as for ship_base_recipe. The name carries the recipe's hash, so a changed recipe
# makes a new tarball. Written under a temporary name and renamed, so an interrupted run
# leaves no truncated tarball.
ship_base_tarball()
{
    local flavour=$1
    ship_base_recipe "$flavour"
    local tarball=$ship_cache/debian-$flavour-$ship_recipe_id.tar
    # shellcheck disable=SC2034 # read by the callers
    ship_tarball=$tarball
    [[ -s $tarball && ${SERVO_REFRESH_BASE:-} != 1 ]] && return 0
    ship_temps+=("$tarball.tmp.$$")
    ship_step "mmdebstrap $flavour into $tarball" \
        mmdebstrap "${ship_recipe[@]}" "$ship_suite" "$tarball.tmp.$$" "${ship_mirrors[@]}"
    mv -f "$tarball.tmp.$$" "$tarball"
}
