#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the servo's container image from the Dockerfile, offline (no container registry):
#
#   1. when docker.io/library/debian:bookworm or :bookworm-slim is missing from podman's store,
#      makes it from the Debian mirror with mmdebstrap (tarballs cached in $SERVO_BUILD_CACHE,
#      default /var/cache/servo-build) and imports it with `podman import`;
#   2. podman build --isolation chroot (containers here have no cgroups);
#   3. checks the image is under the size limit, tags it localhost/servo:VERSION and
#      localhost/servo:latest, and writes build/servo-image.tar (podman save --format
#      oci-archive).
#
#   scripts/image.sh
#
# Environment: SERVO_IMAGE_MAX_MB=100 (the size limit), SERVO_IMAGE_ARCHIVE (the archive's
# path), SERVO_IMAGE_SOURCE (the org.opencontainers.image.source label), and those of
# scripts/ship-lib.sh. The log is build/logs/image.log. Needs root (podman's system store).
# A failure leaves the previous image, tags and archive as they were.
set -euo pipefail
# shellcheck source=scripts/ship-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/ship-lib.sh"

max_mb=${SERVO_IMAGE_MAX_MB:-100}
archive=${SERVO_IMAGE_ARCHIVE:-$ship_root/build/servo-image.tar}
repository=localhost/servo

((EUID == 0)) || ship_die "run as root: podman's system store and mmdebstrap --mode=root need it"
ship_need podman:podman mmdebstrap:mmdebstrap flock:util-linux
[[ -f $ship_root/Dockerfile ]] || ship_die "no Dockerfile in $ship_root"
version=$(ship_version)
revision=$(git -C "$ship_root" rev-parse HEAD 2>/dev/null || echo unknown)
# the origin's URL when it is one (a clone of a local path is not), else the homepage
source_url=${SERVO_IMAGE_SOURCE:-$(git -C "$ship_root" remote get-url origin 2>/dev/null |
    grep -E '^https?://' ||
    sed -nE 's/^#define SERVO_HOMEPAGE "(.*)"/\1/p' "$ship_root/src/cli/cli.h")}
ship_open_log "$ship_root/build/logs/image.log"
ship_lock_cache

# Makes docker.io/library/debian:FLAVOUR from the cached (or a new) mmdebstrap tarball, unless
# podman has it already, made from the same recipe (its label says which).
ensure_base_image()
{
    local flavour=$1 name=docker.io/library/debian:$1 made_from
    ship_base_recipe "$flavour"
    made_from=$(podman image inspect --format '{{index .Config.Labels "org.servo.base-recipe"}}' \
        "$name" 2>/dev/null || true)
    if [[ $made_from == "$ship_recipe_id" && ${SERVO_REFRESH_BASE:-} != 1 ]]; then
        ship_say "base image $name: present (recipe $ship_recipe_id)"
        return 0
    fi
    ship_base_tarball "$flavour"
    ship_step "podman import $ship_tarball as $name" \
        podman import --change 'CMD ["bash"]' --change "LABEL org.servo.base-recipe=$ship_recipe_id" \
        --message "mmdebstrap --variant=minbase $flavour" "$ship_tarball" "$name"
}

ensure_base_image bookworm
ensure_base_image bookworm-slim
ship_unlock_cache

# Built under a name of its own, so that the real tags move only once everything passed.
scratch=$repository:building-$$
# `podman untag IMAGE` alone would remove every name of the image, the new tags too
ship_undo+=("podman untag $scratch $scratch")
ship_step "podman build (Dockerfile, version $version)" \
    podman build --isolation chroot --network host --pull=never \
    --build-arg VERSION="$version" --build-arg REVISION="$revision" \
    --build-arg SOURCE="$source_url" \
    --tag "$scratch" --file "$ship_root/Dockerfile" "$ship_root"

bytes=$(podman image inspect --format '{{.Size}}' "$scratch")
mb=$(((bytes + 999999) / 1000000))
if ((bytes > max_mb * 1000000)); then
    ship_die "the image is $mb MB, over the limit of $max_mb MB (SERVO_IMAGE_MAX_MB); not tagged"
fi
user=$(podman image inspect --format '{{.Config.User}}' "$scratch")
[[ -n $user && ${user%%:*} != 0 && ${user%%:*} != root ]] ||
    ship_die "the image's user is \"$user\", not a non-root user; not tagged"

ship_step "tag $repository:$version and :latest" \
    podman tag "$scratch" "$repository:$version" "$repository:latest"
mkdir -p "$(dirname "$archive")"
ship_temps+=("$archive.tmp.$$")
ship_step "podman save --format oci-archive" \
    podman save --format oci-archive --output "$archive.tmp.$$" "$repository:$version"
mv -f "$archive.tmp.$$" "$archive"

ship_say "built $repository:$version (and :latest), $mb MB, user $user; archive: $archive ($(du -m "$archive" | cut -f1) MB)"
