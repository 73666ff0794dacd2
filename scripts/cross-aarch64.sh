#!/bin/sh
# scripts/cross-aarch64.sh -- the aarch64 NEON path, cross-built and run under qemu-user.
#
# Builds tests/cross/kernels_main.c with the Hamming layer (lib/core/hamming*.c, cpu.c,
# status.c) and eval's per-query pass (lib/eval/scan*.c) for aarch64 with Debian's
# gcc-aarch64-linux-gnu, and runs it with qemu-aarch64 -L /usr/aarch64-linux-gnu: every
# kernel set the (emulated) CPU has -- scalar and neon -- must match the scalar
# references bit for bit. The same program is also built for the host and run, so its
# checks are exercised on the x86 kernels too. Speed cannot be measured under qemu.
#
# Why a standalone program and not the whole search-only libdh + Check suites: those
# need check, zlib and cJSON built for arm64, which Debian 12 only ships through
# multiarch (dpkg --add-architecture arm64), and this script must not change the system.
#
#   scripts/cross-aarch64.sh [OUTDIR]    exit 0 ok, 1 failed, 77 cross tools missing
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CROSS_CC=${CROSS_CC:-aarch64-linux-gnu-gcc}
QEMU=${QEMU:-qemu-aarch64}
SYSROOT=${CROSS_SYSROOT:-/usr/aarch64-linux-gnu}
if ! command -v "$CROSS_CC" >/dev/null 2>&1 || ! command -v "$QEMU" >/dev/null 2>&1 ||
    [ ! -d "$SYSROOT/lib" ]; then
    echo "cross-aarch64: $CROSS_CC / $QEMU / $SYSROOT missing (scripts/install-deps.sh --cross): skipped"
    exit 77
fi
OUT=${1:-$(mktemp -d)}
mkdir -p "$OUT"
cd "$ROOT"
SRC="tests/cross/kernels_main.c lib/core/hamming_scalar.c lib/core/hamming_avx2.c
lib/core/hamming_avx512bw.c lib/core/hamming_avx512vpopcnt.c lib/core/hamming_neon.c
lib/core/cpu.c lib/core/status.c lib/eval/scan.c lib/eval/scan_avx2.c lib/eval/scan_avx512.c
lib/eval/scan_neon.c"
FLAGS="-std=c11 -O2 -Wall -Wextra -Werror -Iinclude -Ilib"
# shellcheck disable=SC2086
"$CROSS_CC" $FLAGS $SRC -o "$OUT/kernels_aarch64"
# shellcheck disable=SC2086
${CC:-cc} $FLAGS $SRC -o "$OUT/kernels_host"
echo "cross-aarch64: host build"
"$OUT/kernels_host"
echo "cross-aarch64: aarch64 build under $QEMU"
"$QEMU" -L "$SYSROOT" "$OUT/kernels_aarch64"
