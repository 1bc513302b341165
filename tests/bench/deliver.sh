#!/usr/bin/env bash
# deliver.sh - benchmark of `kairan deliver`: median wall time for a 10 KB
# post to lists of 10, 1,000 and 10,000 members, and peak RSS for a 10 MB
# post.  Prints RESULT lines; not a timed test (run by hand).
#   usage: tests/bench/deliver.sh [path/to/kairan]   env: RUNS=21
set -euo pipefail
K=${1:-$(dirname "$0")/../../build/kairan}
K=$(readlink -f "$K")
RUNS=${RUNS:-21}
tmp=$(mktemp -d /tmp/kairan-bench-XXXXXX)
trap 'rm -rf "$tmp"' EXIT

python3 - "$tmp/post10k" "$tmp/post10m" <<'PY'
import sys
body = ("The quick brown fox jumps over the lazy dog. 0123456789 abcdefghij\n" * 150)[:10000]
hdr = "From: user0@example.test\nTo: bench@lists.example.test\nSubject: bench\nMessage-ID: <b@x>\n\n"
open(sys.argv[1], "w").write(hdr + body)
import base64, os
data = base64.encodebytes(os.urandom(7_500_000)).decode()
open(sys.argv[2], "w").write(hdr.replace("Subject: bench", "Subject: big\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=B")
    + "--B\nContent-Type: text/plain\n\nsee attachment\n--B\nContent-Type: application/octet-stream\n"
      "Content-Transfer-Encoding: base64\n\n" + data + "--B--\n")
PY

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# The floor: starting the binary at all (dynamic linking of GMime, GLib,
# OpenSSL, SQLite) measured the same way.
times=()
for ((r = 0; r < RUNS; r++)); do
    s=$(date +%s%N); "$K" --version >/dev/null; e=$(date +%s%N)
    times+=($(( (e - s) / 1000 )))
done
med=$(printf '%s\n' "${times[@]}" | median)
printf 'RESULT\tstartup-floor\tkairan --version\tmedian_ms=%.2f\truns=%d\n' "$(echo "$med / 1000" | bc -l)" "$RUNS"

for n in 10 1000 10000; do
    H="$tmp/h$n"
    "$K" --home "$H" init --domain lists.example.test >/dev/null
    "$K" --home "$H" newlist bench >/dev/null
    "$K" --home "$H" config bench max_size 0
    sqlite3 "$H/kairan.db" "WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i+1 FROM c WHERE i < $n - 1)
        INSERT INTO members(list, address, since) SELECT 'bench', 'user' || i || '@example.test', 0 FROM c;"
    times=()
    for ((r = 0; r < RUNS; r++)); do
        s=$(date +%s%N)
        "$K" --home "$H" deliver bench -f user0@example.test < "$tmp/post10k"
        e=$(date +%s%N)
        times+=($(( (e - s) / 1000 )))
        rm -f "$H"/queue/env/* "$H"/queue/msg/*
    done
    med=$(printf '%s\n' "${times[@]}" | median)
    printf 'RESULT\tdeliver-10KB\tmembers=%d\tmedian_ms=%.2f\truns=%d\n' "$n" "$(echo "$med / 1000" | bc -l)" "$RUNS"
done
H="$tmp/h10000"
rss=$( { /usr/bin/time -f '%M' "$K" --home "$H" deliver bench -f user0@example.test < "$tmp/post10m"; } 2>&1 | tail -1)
printf 'RESULT\tdeliver-10MB\tmembers=10000\tpeak_rss_MB=%.1f\n' "$(echo "$rss / 1024" | bc -l)"
