#!/bin/sh
# Install every Debian 12 package libdh needs, when missing.
#   scripts/install-deps.sh          build + test + demo dependencies
#   scripts/install-deps.sh --bench  also the comparison peers (FAISS, PyTorch) and
#                                    scikit-learn for the Python example's t-SNE picture
# Runs apt-get as root (or through sudo). Idempotent: does nothing when all is installed.
set -eu
PKGS="build-essential cmake pkg-config libdnnl-dev libopenblas-openmp-dev libstb-dev check \
zlib1g-dev libcjson-dev libcairo2-dev libpango1.0-dev fonts-dejavu-core python3 python3-numpy python3-pytest python3-pip python3-setuptools python3-matplotlib dataset-fashion-mnist"
# libdh_mpi (DH_WITH_MPI): Open MPI, and mpi4py for dh.dist and its tests
PKGS="$PKGS libopenmpi-dev openmpi-bin python3-mpi4py"
# the aarch64 cross check of scripts/test.sh (scripts/cross-aarch64.sh): ~15 s to install
PKGS="$PKGS gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user"
if [ "${1:-}" = "--bench" ]; then
    PKGS="$PKGS python3-faiss libfaiss-dev python3-torch python3-torchvision python3-sklearn"
fi
missing=""
for p in $PKGS; do
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case "$st" in *"install ok installed"*) ;; *) missing="$missing $p" ;; esac
done
[ -z "$missing" ] && exit 0
echo "install-deps: installing:$missing"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing
