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
# 3. a static consumer: libdh.a plus what pkg-config --static lists, no libdh.so at run time
PC="env PKG_CONFIG_PATH=$LIBDIR/pkgconfig pkg-config"
cc "$SRC/tests/install/consumer/main.c" -o "$TMP/consumer_static" -DDH_STATIC_DEFINE \
   $($PC --cflags dh) "$LIBDIR/libdh.a" $($PC --static --libs dh | sed 's/ -ldh / /; s/^-ldh //; s/ -ldh$//')
if ldd "$TMP/consumer_static" | grep -q libdh.so; then echo "static consumer loads libdh.so"; exit 1; fi
"$TMP/consumer_static" >/dev/null
# 4. every C block of README.md and docs/guide.md compiles as written against the install
n=0
for doc in "$SRC/README.md" "$SRC/docs/guide.md"; do
    awk -v out="$TMP/block" 'BEGIN { n = 0 } /^```c$/ { n++; f = out "_" n ".c"; inb = 1; next }
         /^```/ { inb = 0; next } inb { print > f }' "$doc"
    for b in "$TMP"/block_*.c; do
        [ -e "$b" ] || continue
        cc -std=c11 -Wall -Werror -c "$b" -o "$b.o" $($PC --cflags dh) || { echo "$doc: a C block does not compile"; exit 1; }
        cc "$b.o" -o "$b.exe" $($PC --libs dh) || { echo "$doc: a C block does not link"; exit 1; }
        rm -f "$b" "$b.o" "$b.exe"
        n=$((n + 1))
    done
done
[ "$n" -ge 2 ] || { echo "expected C blocks in README.md and docs/guide.md, found $n"; exit 1; }
# 5. the installed tool runs from the prefix without LD_LIBRARY_PATH (RPATH $ORIGIN/../lib)
if [ -x "$TMP/prefix/bin/dh" ]; then
    env -u LD_LIBRARY_PATH "$TMP/prefix/bin/dh" --version >/dev/null
fi
# 6. the installed Python package finds the installed library (no DH_LIBRARY, no build tree)
PYDIR="$TMP/prefix/lib/python3/dist-packages"
if [ -f "$PYDIR/dh/__init__.py" ] && [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import numpy' 2>/dev/null; then
    (cd "$TMP" && env -u DH_LIBRARY PYTHONPATH="$PYDIR" /usr/bin/python3 -c "
import dh, sys
path = dh._lib.lib._name
assert path.startswith('$TMP/prefix/'), path
print('python: dh', dh.__version__, 'from', path)")
fi
echo "install: find_package(dh), pkg-config, static consumer, $n doc blocks, installed dh and Python package OK"
