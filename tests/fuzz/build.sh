#!/bin/bash
# tests/fuzz/build.sh - build kairan's libFuzzer harnesses with clang.
#
# Every tests/fuzz/fuzz_NAME.c becomes BUILDDIR/tests/fuzz/bin/fuzz_NAME,
# linked against the kairan library sources compiled again with clang and
# -fsanitize=fuzzer-no-link,address,undefined (the normal build uses gcc and
# never depends on this).  The library sources are the ones automake knows
# (libkairan_a_SOURCES, printed by `make fuzz-print-sources`), so a module
# that lands later is included without editing this script.
#
# Usage: build.sh [BUILDDIR]   (default: the current directory)
# Exit status: 0 built, 77 clang or the libFuzzer runtime is missing,
# 1 a compile error.
set -eu

builddir=$(cd "${1:-${KAIRAN_BUILDDIR:-.}}" && pwd)
srcdir=$(cd "$(dirname "$0")/../.." && pwd)
CC=${FUZZ_CC:-clang}
MAKE=${MAKE:-make}

if ! command -v "$CC" >/dev/null 2>&1; then
    echo "build.sh: $CC not found" >&2
    exit 77
fi
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void) d; (void) n; return 0; }\n' >"$probe/p.c"
if ! "$CC" -fsanitize=fuzzer,address,undefined "$probe/p.c" -o "$probe/p" >/dev/null 2>&1; then
    echo "build.sh: $CC cannot link -fsanitize=fuzzer (install libclang-rt-dev)" >&2
    exit 77
fi
if [ ! -f "$builddir/config.h" ]; then
    echo "build.sh: $builddir/config.h missing: run ./configure first" >&2
    exit 1
fi

sources=$(cd "$builddir" && $MAKE -s --no-print-directory fuzz-print-sources)
pkgs="gmime-3.0 glib-2.0 gio-2.0 sqlite3 libmicrohttpd openssl libcares json-glib-1.0"
PKG_CFLAGS=$(pkg-config --cflags $pkgs)
PKG_LIBS=$(pkg-config --libs $pkgs)
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
DEFS=(-DKAIRAN_DEFAULT_HOME="\"/nonexistent/kairan-fuzz\"" -DKAIRAN_BINDIR="\"/nonexistent\"" -DKAIRAN_LIBEXECDIR="\"/nonexistent\""
      -DKAIRAN_TEMPLATE_DIR="\"$srcdir/templates\"" -DKAIRAN_SRC_TEMPLATE_DIR="\"$srcdir/templates\"")
CFLAGS="-std=gnu11 -g -O1 -Wno-unused-command-line-argument -I$builddir -I$srcdir/src/lib -I$srcdir/src $PKG_CFLAGS"

obj="$builddir/tests/fuzz/obj"
bin="$builddir/tests/fuzz/bin"
mkdir -p "$obj" "$bin"

# compile SRC OBJ FLAGS...: only when SRC (or a header) is newer than OBJ.
newest_header=$(ls -t "$srcdir"/src/*/*.h "$srcdir"/tests/fuzz/*.h | head -n 1)
compile() {
    src=$1 out=$2
    shift 2
    if [ -f "$out" ] && [ "$out" -nt "$src" ] && [ "$out" -nt "$newest_header" ] && [ "$out" -nt "$0" ]; then
        return 0
    fi
    # shellcheck disable=SC2086
    "$CC" $CFLAGS "${DEFS[@]}" "$@" -c "$src" -o "$out"
}

objs=""
failed=0
pids=()
for s in $sources; do
    case $s in *.c) ;; *) continue ;; esac
    o="$obj/$(echo "$s" | tr '/' '_' | sed 's/\.c$/.o/')"
    # two compilers at a time: the machine is shared
    if [ ${#pids[@]} -ge 2 ]; then
        wait "${pids[0]}" || failed=1
        pids=("${pids[@]:1}")
    fi
    compile "$srcdir/$s" "$o" $SAN -fsanitize=fuzzer-no-link &
    pids+=($!)
    objs="$objs $o"
done
for p in "${pids[@]}"; do wait "$p" || failed=1; done
if [ "$failed" = 1 ]; then
    echo "build.sh: compile errors" >&2
    exit 1
fi
rm -f "$obj/libkairan-fuzz.a"
ar cr "$obj/libkairan-fuzz.a" $objs

for h in "$srcdir"/tests/fuzz/fuzz_*.c; do
    name=$(basename "$h" .c)
    compile "$h" "$obj/$name.o" $SAN -fsanitize=fuzzer -I"$srcdir/tests/fuzz"
    "$CC" $SAN -fsanitize=fuzzer "$obj/$name.o" "$obj/libkairan-fuzz.a" $PKG_LIBS -lm -o "$bin/$name"
    echo "built $bin/$name"
done
