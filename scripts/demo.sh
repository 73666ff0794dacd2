#!/bin/sh
# The main job (README, command 1): install missing Debian packages, build libdh and
# the dh tool, then run `dh demo` -- train on the packaged Fashion-MNIST, index the
# 60,000-image database, evaluate the 10,000 test queries, write PR curve and
# retrieval grid into ./dh-demo/.  Extra arguments go to `dh demo` (e.g. --quick).
set -eu
cd "$(dirname "$0")/.."
sh scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DDH_PYTHON=/usr/bin/python3 >/dev/null
cmake --build build -j "$(nproc)" --target dh_cli >/dev/null
exec build/src/dh demo --out dh-demo "$@"
