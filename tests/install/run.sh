#!/bin/sh
# Install libdh from BUILD_DIR into a temporary prefix, then build and run a consumer
# with find_package(dh) (target dh::dh) and with pkg-config, and check the SONAME.
#   run.sh SOURCE_DIR BUILD_DIR
set -eu
SRC=$1
BUILD=$2
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
cmake --install "$BUILD" --prefix "$TMP/prefix" >/dev/null
LIBDIR=$(ls -d "$TMP"/prefix/lib*/ | head -1)
test -f "$TMP/prefix/include/dh.h"
objdump -p "$LIBDIR/libdh.so" | grep -q 'SONAME *libdh.so.1'
test -f "$LIBDIR/libdh.a"
# 1. CMake package
cmake -S "$SRC/tests/install/consumer" -B "$TMP/b" -DCMAKE_PREFIX_PATH="$TMP/prefix" >/dev/null
cmake --build "$TMP/b" >/dev/null
LD_LIBRARY_PATH="$LIBDIR" "$TMP/b/consumer"
# 2. pkg-config
PKG_CONFIG_PATH="$LIBDIR/pkgconfig" pkg-config --exists dh
cc "$SRC/tests/install/consumer/main.c" -o "$TMP/consumer_pc" \
   $(PKG_CONFIG_PATH="$LIBDIR/pkgconfig" pkg-config --cflags --libs dh)
LD_LIBRARY_PATH="$LIBDIR" "$TMP/consumer_pc"
echo "install: find_package(dh) and pkg-config consumers OK"
