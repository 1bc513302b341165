#!/bin/bash
# tests/fuzz/run-short.sh - the short fuzz run of the test suite (TAP).
#
# Builds the libFuzzer harnesses (build.sh) and runs each one over its
# seeds (tests/fuzz/seeds/NAME, tests/fuzz/NAME.dict if present, plus the
# ../shared/corpus directories named on its "fuzz-corpus:" line, copied
# into a temporary directory, never into the source tree) and then
# FUZZ_SECONDS (default 10: with its corpus, about fifteen seconds a
# harness, about six minutes for the twenty-four of them, beside the
# other tests of make -j2)
# of fuzzing.
# One TAP line per harness; a crash, leak, sanitizer report or timeout is
# "not ok" and the reproducer is kept in BUILDDIR/tests/fuzz/artifacts/.
# Skips (TAP SKIP) when clang or the libFuzzer runtime is missing.
#
# Long runs by hand: FUZZ_SEED=random FUZZ_CPU_SECONDS=1800 FUZZ_SECONDS=86400 stops each
# harness once it has used 30 CPU-minutes, however busy the machine is.
#
# Environment: FUZZ_SECONDS, FUZZ_SEED (default 1; "random" for a new
# seed each run), FUZZ_CPU_SECONDS (stop a harness after this
# much CPU time), FUZZ_ONLY (harness names, e.g. "fuzz_address fuzz_web"),
# FUZZ_CORPUS (a directory that keeps the grown corpora between runs),
# FUZZ_NICE (default 10), FUZZ_LOGDIR (keep each fuzzer's output there).
set -u

srcdir=$(cd "$(dirname "$0")/../.." && pwd)
builddir=${KAIRAN_BUILDDIR:-$srcdir}
shared=${KAIRAN_SHARED:-$srcdir/../shared}
seconds=${FUZZ_SECONDS:-10}
nice=${FUZZ_NICE:-10}
log=$(mktemp -d /tmp/kairan-fuzz-run.XXXXXX)
trap 'rm -rf "$log"' EXIT
# GSlice caches would hide leaked GObjects from LeakSanitizer
export G_SLICE=always-malloc G_DEBUG=gc-friendly
export LSAN_OPTIONS="suppressions=$srcdir/tests/fuzz/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"

if grep -q '^SANITIZER_FLAGS = -fsanitize' "$builddir/Makefile" 2>/dev/null; then
    echo "1..0 # SKIP the fuzzers run in the plain build (they carry their own sanitizers)"
    exit 0
fi
bash "$srcdir/tests/fuzz/build.sh" "$builddir" >"$log/build.log" 2>&1
rc=$?
if [ $rc = 77 ]; then
    echo "1..0 # SKIP $(tail -n 1 "$log/build.log")"
    exit 0
elif [ $rc != 0 ]; then
    echo "not ok 1 - build the fuzz harnesses"
    sed 's/^/#   /' "$log/build.log" | tail -n 40
    echo "1..1"
    exit 1
fi

hz=$(getconf CLK_TCK)
# The test suite's run starts from a fixed seed, so that a run that
# passed here passes in CI too; long runs by hand (FUZZ_SEED=random)
# explore anew each time.
seed=${FUZZ_SEED:-1}
seed_opt=
[ "$seed" != random ] && seed_opt="-seed=$seed"
artifacts="$builddir/tests/fuzz/artifacts"
mkdir -p "$artifacts"
n=0
failed=0
for h in "$srcdir"/tests/fuzz/fuzz_*.c; do
    name=$(basename "$h" .c)
    short=${name#fuzz_}
    if [ -n "${FUZZ_ONLY:-}" ]; then
        case " $FUZZ_ONLY " in *" $name "*) ;; *) continue ;; esac
    fi
    n=$((n + 1))
    if [ -n "${FUZZ_CORPUS:-}" ]; then
        corpus="$FUZZ_CORPUS/$short"
    else
        corpus="$log/corpus-$short"
    fi
    mkdir -p "$corpus"
    if [ -d "$srcdir/tests/fuzz/seeds/$short" ]; then
        cp -f "$srcdir/tests/fuzz/seeds/$short"/* "$corpus/" 2>/dev/null
    fi
    dirs=$(sed -n 's/^.*fuzz-corpus:\(.*\)$/\1/p' "$h" | head -n 1)
    nshared=0
    for d in $dirs; do
        [ -d "$shared/corpus/$d" ] || continue
        while IFS= read -r -d '' f; do
            # the message harness reads one selector byte before the mail
            printf '\000' >"$corpus/shared-$d-$nshared"
            cat "$f" >>"$corpus/shared-$d-$nshared"
            nshared=$((nshared + 1))
        done < <(find "$shared/corpus/$d" -type f ! -name '.*' ! -iname '*.md' ! -iname '*.txt' -print0)
    done
    dict=
    [ -f "$srcdir/tests/fuzz/$short.dict" ] && dict="-dict=$srcdir/tests/fuzz/$short.dict"
    start=$(date +%s)
    nice -n "$nice" "$builddir/tests/fuzz/bin/$name" -max_total_time="$seconds" -timeout=20 $seed_opt \
        -rss_limit_mb=2560 -max_len=262144 -print_final_stats=1 \
        -artifact_prefix="$artifacts/$name-" $dict "$corpus" >"$log/$name.log" 2>&1 &
    pid=$!
    cpu=0
    stopped_on_cpu=0
    # Watch the fuzzer's own CPU time (utime + stime, in clock ticks): on a
    # shared machine wall time says little about how much fuzzing was done.
    while kill -0 "$pid" 2>/dev/null; do
        ticks=$(awk '{ print $14 + $15 }' "/proc/$pid/stat" 2>/dev/null) || break
        [ -n "$ticks" ] && cpu=$((ticks / hz))
        if [ -n "${FUZZ_CPU_SECONDS:-}" ] && [ "$cpu" -ge "$FUZZ_CPU_SECONDS" ]; then
            stopped_on_cpu=1
            kill -INT "$pid"
            break
        fi
        sleep 2
    done
    wait "$pid"
    rc=$?
    # libFuzzer exits 72 when interrupted; here the interrupt was ours.
    [ $stopped_on_cpu = 1 ] && [ $rc = 72 ] && rc=0
    [ -n "${FUZZ_LOGDIR:-}" ] && cp "$log/$name.log" "$FUZZ_LOGDIR/$name.$(date +%H%M%S).log"
    took=$(( $(date +%s) - start ))
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log/$name.log" | tail -n 1)
    if [ $rc = 0 ]; then
        echo "ok $n - $name: ${runs:-?} runs in ${took}s, ${cpu} CPU-s ($(ls "$corpus" | wc -l) inputs, $nshared from the shared corpus)"
    else
        failed=1
        echo "not ok $n - $name: exit $rc after ${took}s (artifacts in $artifacts)"
        grep -E 'ERROR|SUMMARY|runtime error|abort|Test unit written' "$log/$name.log" | head -n 20 | sed 's/^/#   /'
        tail -n 40 "$log/$name.log" | sed 's/^/#   /'
    fi
done
echo "1..$n"
exit $failed
