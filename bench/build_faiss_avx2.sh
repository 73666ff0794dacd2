#!/bin/sh
# Rebuild Debian's faiss source package with FAISS_OPT_LEVEL=avx2: the build that users of
# pip/conda FAISS run, for bench/bench_index.py to compare against beside Debian's generic
# python3-faiss. Benchmark only, never in CI: it installs build dependencies with apt-get
# (root or sudo), downloads the source with `apt-get source faiss` and compiles faiss_avx2
# plus its SWIG module, niced (4-8 minutes on 2 cores; 72 MB in WORKDIR).
#
#   bench/build_faiss_avx2.sh [WORKDIR]     # default: $DH_FAISS_AVX2_BUILD or build/faiss-avx2
#
# It leaves the python package in WORKDIR/python/faiss; its _swigfaiss_avx2.so links the
# static libfaiss_avx2.a, so that folder stands alone (it needs only OpenBLAS/BLAS + libgomp).
# bench_index.py picks up build/faiss-avx2/python on its own; elsewhere pass --faiss-path
# or set DH_FAISS_AVX2. Environment: JOBS (default 2), PYTHON (default /usr/bin/python3).
# Rerunning reuses the downloaded source and the build folder.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
work=${1:-${DH_FAISS_AVX2_BUILD:-$root/build/faiss-avx2}}
jobs=${JOBS:-2}
python=${PYTHON:-/usr/bin/python3}
srcfile=/etc/apt/sources.list.d/libdh-faiss-src.sources

sudo=
if [ "$(id -u)" -ne 0 ]; then sudo=sudo; fi
lowprio="nice -n 19"
if command -v ionice >/dev/null 2>&1; then lowprio="$lowprio ionice -c3"; fi

say() { printf '== %s\n' "$*"; }
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'ok installed'; }

start=$(date +%s)
mkdir -p "$work"
work=$(cd "$work" && pwd)

# 1. Build dependencies (Debian's Build-Depends of faiss less debhelper and gtest), each
# unless already installed; any BLAS/LAPACK development package will do.
missing=
for p in dpkg-dev make cmake g++ swig python3-dev python3-numpy python3-setuptools; do
    installed "$p" || missing="$missing $p"
done
have_blas=no
for p in libblas-dev libopenblas-dev libopenblas-openmp-dev libopenblas-pthread-dev \
         libopenblas-serial-dev; do
    if installed "$p"; then have_blas=yes; fi
done
if [ "$have_blas" = no ]; then missing="$missing libblas-dev"; fi
installed liblapack-dev || missing="$missing liblapack-dev"

src=$(find "$work" -mindepth 1 -maxdepth 1 -type d -name 'faiss-*' | sort | tail -n 1)
need_update=no
if [ -n "$missing" ]; then need_update=yes; fi

# 2. A deb-src entry, only if apt cannot already get faiss's source.
if [ -z "$src" ] && ! apt-cache showsrc faiss 2>/dev/null | grep -q '^Package: faiss'; then
    need_update=yes
    has_deb_src=no
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
             /etc/apt/sources.list.d/*.sources; do
        if [ -f "$f" ] && grep -qs '^[[:space:]]*\(deb-src\|Types:.*deb-src\)' "$f"; then
            has_deb_src=yes
        fi
    done
    if [ "$has_deb_src" = yes ]; then
        say "deb-src entries exist; refreshing the package lists"
    elif [ -f /etc/apt/sources.list.d/debian.sources ]; then
        say "adding $srcfile (deb-src twin of debian.sources)"
        sed 's/^Types:.*/Types: deb-src/' /etc/apt/sources.list.d/debian.sources |
            $sudo tee "$srcfile" >/dev/null
    else
        say "adding $srcfile (Debian 12 defaults)"
        $sudo tee "$srcfile" >/dev/null <<'EOF'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    fi
fi
if [ "$need_update" = yes ]; then
    say "apt-get update"
    $sudo apt-get update -q
fi
if [ -n "$missing" ]; then
    say "installing:$missing"
    # shellcheck disable=SC2086 # word splitting of the package list is intended
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
fi

# 3. The source, with Debian's patches applied.
if [ -z "$src" ]; then
    say "apt-get source faiss into $work"
    (cd "$work" && $lowprio apt-get source -q faiss)
    src=$(find "$work" -mindepth 1 -maxdepth 1 -type d -name 'faiss-*' | sort | tail -n 1)
fi
[ -n "$src" ] || { echo "no faiss-* source folder in $work" >&2; exit 1; }
say "source: $src"

# 4. Configure and build only what the AVX2 python module needs (faiss_avx2, not the
# generic libfaiss, which Debian's python3-faiss already provides).
build=$work/build
$lowprio cmake -S "$src" -B "$build" \
    -DFAISS_OPT_LEVEL=avx2 -DFAISS_ENABLE_GPU=OFF -DFAISS_ENABLE_PYTHON=ON \
    -DFAISS_ENABLE_C_API=OFF -DBUILD_TESTING=OFF -DCMAKE_BUILD_TYPE=Release \
    -DPython_EXECUTABLE="$python"
$lowprio cmake --build "$build" --target swigfaiss_avx2 -j "$jobs"

# 5. The python package (upstream's setup.py copies the wrappers and _swigfaiss_avx2.so).
rm -rf "$work/python"
(cd "$build/faiss/python" && $lowprio "$python" setup.py -q build --build-lib "$work/python")
if ldd "$work/python/faiss/_swigfaiss_avx2.so" | grep -q 'not found'; then
    ldd "$work/python/faiss/_swigfaiss_avx2.so" >&2
    exit 1
fi

# 6. Check that `import faiss` from there loads the AVX2 module, not Debian's.
(cd / && PYTHONPATH="$work/python" "$python" - <<'EOF'
import logging
import sys
logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
import faiss
opts = faiss.get_compile_options()
print(f"faiss {faiss.__version__} from {faiss.__file__}, compile options: {opts}")
if "faiss.swigfaiss_avx2" not in sys.modules or "AVX2" not in opts:
    sys.exit("the AVX2 module did not load")
EOF
)
say "built in $(($(date +%s) - start)) s; to use it:"
echo "export PYTHONPATH=$work/python   # or: export DH_FAISS_AVX2=$work/python"
