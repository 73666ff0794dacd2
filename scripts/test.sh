#!/bin/sh
# The test command (README, command 2; .ci/run runs exactly this):
# install missing Debian packages, build libdh, run the whole suite (Check suites,
# fuzz-corpus replays, ABI checks, Python tests), then the same suite under
# AddressSanitizer + UndefinedBehaviorSanitizer, the search-only build's suite, and the
# aarch64 NEON kernel check under qemu-user (scripts/cross-aarch64.sh, when installed).
#   DH_TEST_NO_ASAN=1   skip the sanitizer pass    DH_JOBS=N   parallel build jobs
#   DH_TEST_NO_TSAN=1   skip the ThreadSanitizer pass (index concurrency tests)
set -eu
cd "$(dirname "$0")/.."
sh scripts/install-deps.sh
JOBS=${DH_JOBS:-$(nproc)}
# Debian's /usr/bin/python3 has numpy/pytest; another python3 first on PATH may not.
PY=/usr/bin/python3
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DDH_WERROR=ON -DDH_PYTHON=$PY
cmake --build build -j "$JOBS"
ctest --test-dir build --output-on-failure -j "$JOBS" --label-exclude long
# the search-only library (no oneDNN/OpenBLAS): index, metrics, data, same ABI
cmake -S . -B build-notrain -DCMAKE_BUILD_TYPE=Release -DDH_WITH_TRAINING=OFF -DDH_WERROR=ON \
    -DDH_PYTHON=$PY
cmake --build build-notrain -j "$JOBS"
ctest --test-dir build-notrain --output-on-failure -j "$JOBS" --label-exclude long
# the aarch64 NEON kernels (Hamming layer + eval pass), cross-built and run under
# qemu-user when gcc-aarch64-linux-gnu and qemu-user are installed (about a minute)
st=0
sh scripts/cross-aarch64.sh build-cross || st=$?
[ "$st" -eq 0 ] || [ "$st" -eq 77 ] || exit "$st"
if [ -z "${DH_TEST_NO_ASAN:-}" ]; then
    cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDH_SANITIZE=ON \
        -DDH_BUILD_EXAMPLES=OFF -DDH_PYTHON=$PY
    cmake --build build-asan -j "$JOBS"
    # Python (and the install test's consumer) load libdh without the ASan runtime: skipped.
    # LeakSanitizer is on (ASan's default on Linux): leaks fail the run. The MPI tests run
    # in the main pass only (Open MPI's own allocations are not libdh's to free).
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
        ctest --test-dir build-asan --output-on-failure -j "$JOBS" \
        --label-exclude "long|python|abi|bench|install|mpi"
fi
if [ -z "${DH_TEST_NO_TSAN:-}" ]; then
    # ThreadSanitizer on the index's concurrency tests (search/range/add/remove/compact/
    # save from several pthreads, writer-starvation bound). Search-only build; the tests
    # use n_threads = 1, so libgomp (not TSan-instrumented) never starts a team and no
    # suppression file is needed.
    cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDH_SANITIZE=thread \
        -DDH_WITH_TRAINING=OFF -DDH_BUILD_TOOLS=OFF -DDH_BUILD_EXAMPLES=OFF -DDH_PYTHON=$PY
    cmake --build build-tsan -j "$JOBS" --target check_index_concurrency
    TSAN_OPTIONS=halt_on_error=1 ctest --test-dir build-tsan --output-on-failure \
        -R '^check_index_concurrency$'
fi
echo "libdh: all tests passed"
