#!/usr/bin/env bash
# Installs the Debian 12 packages that building and testing lic needs. Idempotent: when every package
# is already installed it changes nothing and does not touch the network.
#
#   scripts/setup.sh                 build + test dependencies (C toolchain, CMake, libpng, libjpeg, cmocka)
#   scripts/setup.sh --with-python   also PyTorch, NumPy, Pillow: the Python tests (the PyTorch mirror
#                                    that checks the conformance vectors; CI runs them), training and
#                                    benchmarks. The library and CLIs never need Python. They are
#                                    Debian's packages, so use /usr/bin/python3, not another python3 on PATH.
set -euo pipefail

usage() { sed -n '2,9s/^# \{0,1\}//p' "$0"; }

with_python=0
for arg in "$@"; do
    case "$arg" in
        --with-python) with_python=1 ;;
        -h | --help) usage; exit 0 ;;
        *) echo "setup.sh: unknown option '$arg'" >&2; usage >&2; exit 1 ;;
    esac
done

# gcc only recommends libc6-dev, and we install without recommends: name it.
packages=(cmake make gcc libc6-dev pkg-config libpng-dev libjpeg62-turbo-dev libcmocka-dev)
if ((with_python)); then
    packages+=(python3 python3-torch python3-numpy python3-pil python3-matplotlib libopenblas0-pthread libjemalloc2)
fi

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
        missing+=("$p")
    fi
done

if ((${#missing[@]} == 0)); then
    echo "setup.sh: all ${#packages[@]} packages already installed"
    exit 0
fi

sudo=()
if (($(id -u) != 0)); then
    sudo=(sudo)
fi

echo "setup.sh: installing ${missing[*]}"
"${sudo[@]}" apt-get update -q
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "${missing[@]}"
