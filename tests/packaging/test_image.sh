#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The container image end to end: scripts/image.sh builds it (offline), then its file system is
# exported (podman create + podman export) and the servo runs inside it with chroot, as the
# image's own user: `servo version`, `servo connectors`, `servo -c CONFIG check` with the exec
# connector, and `servo run` through a whole session with the project's fake optimizer on
# loopback (the HTTP client stack of the image). Also checked: the user is not root, the
# entrypoint, the OCI labels, no HEALTHCHECK, the size limit, and the oci-archive's reference.
#
#   tests/packaging/test_image.sh            build, then check
#   SERVO_IMAGE_SKIP_BUILD=1 tests/packaging/test_image.sh    check the image already built
#
# Needs root (podman's system store, chroot, mounts).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/packaging/lib.sh
source "$here/lib.sh"

((EUID == 0)) || ship_die "run as root (podman, chroot)"
ship_need podman:podman python3:python3 unshare:util-linux tar:tar
version=$(ship_version)
image=localhost/servo:$version
archive=${SERVO_IMAGE_ARCHIVE:-$ship_root/build/servo-image.tar}
max_mb=${SERVO_IMAGE_MAX_MB:-100}

if [[ ${SERVO_IMAGE_SKIP_BUILD:-} != 1 ]]; then
    "$ship_root/scripts/image.sh" || ship_die "scripts/image.sh failed (its log: build/logs/image.log)"
fi
podman image exists "$image" || ship_die "no image $image: run scripts/image.sh"

work=$(mktemp -d /var/tmp/servo-image-test.XXXXXX)
ship_temps+=("$work")
rootfs=$work/rootfs
mkdir "$rootfs"

inspect()
{
    podman image inspect --format "$1" "$image"
}

echo "== the image's configuration"
user=$(inspect '{{.Config.User}}')
uid=${user%%:*}
gid=${user#*:}
[[ $gid == "$user" ]] && gid=$uid
if [[ $uid =~ ^[0-9]+$ && $uid != 0 && $gid =~ ^[0-9]+$ && $gid != 0 ]]; then
    pass "user is a fixed non-root UID:GID ($user)"
else
    fail "user is a fixed non-root UID:GID (it is \"$user\")"
fi
expect_output "entrypoint is servo" '^\[servo\]$' inspect '{{.Config.Entrypoint}}'
expect_output "label version is $version" "^$version\$" \
    inspect '{{index .Config.Labels "org.opencontainers.image.version"}}'
expect_output "label licenses is Apache-2.0" '^Apache-2.0$' \
    inspect '{{index .Config.Labels "org.opencontainers.image.licenses"}}'
expect_output "label source is a URL" '^https?://' \
    inspect '{{index .Config.Labels "org.opencontainers.image.source"}}'
expect_output "no HEALTHCHECK" '^(<nil>|)$' inspect '{{.Config.Healthcheck}}'
bytes=$(inspect '{{.Size}}')
mb=$(((bytes + 999999) / 1000000))
echo "image size: $bytes bytes ($mb MB)"
if ((bytes < max_mb * 1000000)); then
    pass "image under $max_mb MB ($mb MB)"
else
    fail "image under $max_mb MB (it is $mb MB)"
fi
# shellcheck disable=SC2016 # $1 belongs to the inner shell
expect_output "archive $archive is an OCI archive of $image" \
    "\"org.opencontainers.image.ref.name\": *\"(localhost/servo:)?$version\"" \
    sh -c 'tar -xOf "$1" index.json | python3 -m json.tool' sh "$archive"

echo "== the image's file system (podman export), the servo run with chroot as $user"
container=$(podman create "$image")
ship_undo+=("podman rm -f $container")
podman export "$container" | tar -C "$rootfs" -xf -
expect_output "passwd names the user $uid, not root" "^[^:]+:x:$uid:$gid:" \
    grep -E "^[^:]+:x:$uid:" "$rootfs/etc/passwd"

run_servo()
{
    in_root "$rootfs" --userspec="$uid:$gid" -- /usr/bin/env -i HOME=/servo \
        PATH=/usr/local/bin:/usr/bin:/bin sh -c 'cd /servo && exec servo "$@"' servo "$@"
}
expect_output "servo version" "v$version" run_servo version
expect_output "servo connectors lists the built-ins" 'exec.*' run_servo connectors
for connector in exec kubernetes prometheus vegeta wrk wait scripts; do
    expect_output "servo connectors lists $connector" "^$connector\b" run_servo connectors
done

# The exec-session example (three sh scripts) as the servo's application, in its home (the
# servo's working directory, which the example's `working_dir: .` means).
session=$rootfs/servo
cp "$ship_root/examples/exec-session/servo.yaml" "$ship_root"/examples/exec-session/{describe,measure,adjust}.sh "$session/"
chown -R "$uid:$gid" "$session"
expect_output "servo -c servo.yaml check" 'All checks passed' \
    run_servo -c servo.yaml --no-color check

# servo run against the fake optimizer on loopback (the chroot shares the host's network).
python3 "$ship_root/tests/fake_optimizer.py" --port 0 --token image-token \
    --log "$work/requests.jsonl" --sequence --metrics throughput,latency_p99 \
    --measure-duration 1 --adjust main.cpu=1.5 --sleep 600 >"$work/fake.out" 2>&1 &
fake_pid=$!
ship_undo+=("kill $fake_pid")
for _ in $(seq 100); do
    [[ -s $work/fake.out ]] && break
    sleep 0.1
done
url=$(sed -n 's/^listening on //p' "$work/fake.out")
[[ -n $url ]] || ship_die "the fake optimizer did not start: $(cat "$work/fake.out")"
(IN_ROOT_EXEC=1 run_servo -c servo.yaml --no-color --url "$url/accounts/example.com/applications/image/" \
    --token image-token run) >"$work/run.log" 2>&1 &
servo_pid=$!
ship_undo+=("kill $servo_pid")
# The session is over when the fourth WHATS_NEXT (after DESCRIBE, MEASURE and ADJUST) came in.
for _ in $(seq 600); do
    (($(grep -c '"WHATS_NEXT"' "$work/requests.jsonl" 2>/dev/null || true) >= 4)) && break
    kill -0 "$servo_pid" 2>/dev/null || break
    sleep 0.1
done
kill -TERM "$servo_pid" 2>/dev/null || true
run_rc=0
wait "$servo_pid" || run_rc=$?
for event in DESCRIPTION MEASUREMENT ADJUSTMENT GOODBYE; do
    if grep -q "\"$event\"" "$work/requests.jsonl" 2>/dev/null; then
        pass "servo run sent $event to the optimizer"
    else
        fail "servo run sent $event to the optimizer"
    fi
done
if ((run_rc == 0)); then
    pass "servo run exited 0 on SIGTERM"
else
    fail "servo run exited 0 on SIGTERM (it exited $run_rc); its log:"
    tail -n 20 "$work/run.log" | sed 's/^/      /'
fi
finish
