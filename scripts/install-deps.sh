#!/usr/bin/env bash
# Installs the Debian packages listed in scripts/packages.txt (plus any named on the command
# line) with apt-get. Does nothing, quickly, when they are all installed already. Runs apt-get
# directly as root, through sudo otherwise.
#
#   scripts/install-deps.sh [EXTRA_PACKAGE...]
#   SERVO_PACKAGES_FILE=other.txt scripts/install-deps.sh
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
list=${SERVO_PACKAGES_FILE:-$here/packages.txt}
export DEBIAN_FRONTEND=noninteractive

packages=()
while IFS= read -r line; do
    line=${line%%#*}
    for word in $line; do
        packages+=("$word")
    done
done <"$list"
packages+=("$@")

# One dpkg-query for all: it prints the installed ones and complains about unknown names.
declare -A installed=()
while read -r name status; do
    [[ $status == installed ]] && installed[$name]=1
done < <(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${packages[@]}" 2>/dev/null || true)

missing=()
for p in "${packages[@]}"; do
    [[ -n ${installed[$p]:-} ]] || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
    echo "install-deps: all ${#packages[@]} packages are installed"
    exit 0
fi

if ((EUID == 0)); then
    as_root=()
elif command -v sudo >/dev/null; then
    as_root=(sudo --preserve-env=DEBIAN_FRONTEND)
else
    echo "install-deps: missing ${missing[*]}; run as root or install sudo" >&2
    exit 1
fi

echo "install-deps: installing ${missing[*]}"
apt_options=(-q -o Acquire::Retries=3 -o Dpkg::Use-Pty=0)
"${as_root[@]}" apt-get "${apt_options[@]}" update
"${as_root[@]}" apt-get "${apt_options[@]}" install -y --no-install-recommends "${missing[@]}"
