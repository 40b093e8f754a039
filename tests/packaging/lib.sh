# shellcheck shell=bash
# SPDX-License-Identifier: Apache-2.0
# Shared by tests/packaging/test_*.sh: checks that collect failures, and commands run inside an
# unpacked root file system with chroot, in a private mount namespace (its /proc, /dev and bind
# mounts vanish with the command, whatever happens to the test).
# shellcheck source=scripts/ship-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/ship-lib.sh"

failures=()

pass()
{
    printf 'ok    %s\n' "$1"
}

fail()
{
    printf 'FAIL  %s\n' "$1"
    failures+=("$1")
}

# check NAME COMMAND...: runs COMMAND, its output shown on failure only.
check()
{
    local name=$1 out
    shift
    if out=$("$@" 2>&1); then
        pass "$name"
    else
        fail "$name"
        printf '%s\n' "$out" | tail -n 20 | sed 's/^/      /'
    fi
}

# expect_output NAME PATTERN COMMAND...: COMMAND succeeds and its output matches the ERE.
expect_output()
{
    local name=$1 pattern=$2 out
    shift 2
    if out=$("$@" 2>&1) && grep -Eq -- "$pattern" <<<"$out"; then
        pass "$name"
    else
        fail "$name (wanted /$pattern/)"
        printf '%s\n' "$out" | tail -n 20 | sed 's/^/      /'
    fi
}

# in_root ROOT [--userspec=UID:GID] [--bind DIR]... -- COMMAND...: runs COMMAND in ROOT with
# /proc, /dev and /sys mounted and each DIR bind-mounted at the same path. With IN_ROOT_EXEC=1
# the shell is replaced (exec), so that a signal to a background ( ... ) & reaches COMMAND.
in_root()
{
    local root=$1 userspec=() binds=()
    shift
    while [[ $1 != -- ]]; do
        case $1 in
        --userspec=*) userspec=("$1") ;;
        --bind) binds+=("$2") && shift ;;
        *) echo "in_root: unknown option $1" >&2 && return 2 ;;
        esac
        shift
    done
    shift
    local exec=()
    [[ ${IN_ROOT_EXEC:-} == 1 ]] && exec=(exec)
    # shellcheck disable=SC2016 # expanded by the inner shell
    "${exec[@]}" unshare --mount --propagation private -- sh -ec '
        root=$1 userspec=$2 nbinds=$3
        shift 3
        mount -t proc proc "$root/proc"
        mount --rbind /dev "$root/dev"
        mount --rbind /sys "$root/sys"
        while [ "$nbinds" -gt 0 ]; do
            mkdir -p "$root$1"
            mount --bind "$1" "$root$1"
            shift
            nbinds=$((nbinds - 1))
        done
        exec chroot $userspec "$root" "$@"' \
        in_root "$root" "${userspec[*]}" "${#binds[@]}" "${binds[@]}" "$@"
}

# The end of a test: every failed check named, and the exit status.
finish()
{
    if ((${#failures[@]})); then
        printf '\n%d check(s) failed:\n' "${#failures[@]}"
        printf '  %s\n' "${failures[@]}"
        exit 1
    fi
    printf '\nall checks passed\n'
}
