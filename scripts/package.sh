#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the Debian packages with the standard tooling (debian/ + dpkg-buildpackage -b), then
# checks them with lintian:
#
#   build/packages/servo_VERSION_ARCH.deb       /usr/bin/servo, internal modules and plugin
#                                               directory, man pages, completions,
#                                               servo-optimizer.service, /etc/servo/
#   build/packages/servo-dev_VERSION_ARCH.deb   the plugin headers and servo.pc
#
#   scripts/package.sh
#
# The build runs in a copy of the sources (build/package-src/), so the worktree stays clean and
# dpkg-buildpackage's outputs (written to the parent directory) stay inside build/. The log is
# build/logs/package.log; lintian's report is build/packages/lintian.txt. Errors from lintian
# fail the build; its warnings are printed. A failure leaves build/packages/ as it was.
# Environment: SERVO_JOBS (parallel build jobs, default: the number of CPUs).
set -euo pipefail
# shellcheck source=scripts/ship-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/ship-lib.sh"

ship_need dpkg-buildpackage:dpkg-dev dh:debhelper lintian:lintian cmake:cmake \
    dpkg-parsechangelog:dpkg-dev
version=$(ship_version)
changelog_version=$(dpkg-parsechangelog -l "$ship_root/debian/changelog" -S Version) ||
    ship_die "cannot read debian/changelog"
[[ ${changelog_version%%-*} == "$version" ]] ||
    ship_die "debian/changelog is at $changelog_version but CMakeLists.txt says $version: add an entry (dch -v $version)"
arch=$(dpkg --print-architecture)
out=$ship_root/build/packages
ship_open_log "$ship_root/build/logs/package.log"

unmet=$(cd "$ship_root" && dpkg-checkbuilddeps 2>&1) ||
    ship_die "${unmet#dpkg-checkbuilddeps: error: }; install them with scripts/install-deps.sh"

# A fresh copy of the sources without build trees or VCS data, removed at exit.
work=$ship_root/build/package-src/$$
ship_temps+=("$work")
mkdir -p "$work/servo-$version"
ship_step "copy the sources to $work" \
    tar -C "$ship_root" --exclude=./.git --exclude=./build --exclude='./build-*' \
    --exclude=./.cache --exclude='*.o' --exclude='*.so' -cf "$work/sources.tar" .
tar -C "$work/servo-$version" -xf "$work/sources.tar"

jobs=${SERVO_JOBS:-$(nproc)}
ship_step "dpkg-buildpackage -b -us -uc (servo $version)" \
    env -C "$work/servo-$version" DEB_BUILD_OPTIONS="parallel=$jobs nocheck" \
    dpkg-buildpackage -b -us -uc

debs=("$work/servo_${version}_$arch.deb" "$work/servo-dev_${version}_$arch.deb")
for deb in "${debs[@]}"; do
    [[ -s $deb ]] || ship_die "dpkg-buildpackage made no $(basename "$deb"); the log is $ship_log"
done

# lintian exits non-zero on errors only (its default --fail-on=error).
# shellcheck disable=SC2016 # $0 and $@ belong to the inner shell
ship_step "lintian (report in $work/lintian.txt)" \
    sh -c 'lintian --info --display-info --tag-display-limit 0 "$@" >"$0" 2>&1 || { cat "$0"; exit 1; }' \
    "$work/lintian.txt" "${debs[@]}"
warnings=$(grep -c '^W: ' "$work/lintian.txt" || true)

# Into place together: both packages and the report, then the old ones go.
mkdir -p "$out"
staged=$out/.staged.$$
ship_temps+=("$staged")
mkdir "$staged"
cp "${debs[@]}" "$work/lintian.txt" "$staged/"
rm -f "$out"/servo_*.deb "$out"/servo-dev_*.deb
mv -f "$staged"/* "$out/"

ship_say "built $(cd "$out" && echo servo_*.deb servo-dev_*.deb) in $out"
ship_say "lintian: no errors, $warnings warnings$( ((warnings == 0)) || printf ':\n%s' "$(grep '^W: ' "$out/lintian.txt")")"
