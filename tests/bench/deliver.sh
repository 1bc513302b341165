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

# Wall time of one run, measured in Python around posix_spawn + waitpid,
# so no extra fork (such as date(1)) is counted.
timeit() {  # timeit RUNS STDIN-FILE|- CLEANUP-DIR|- ARGS...
    python3 - "$@" <<'PY'
import os, sys, time, glob, statistics
runs, stdin_path, cleanup, args = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4:]
times = []
for _ in range(runs):
    fd = os.open(stdin_path if stdin_path != "-" else "/dev/null", os.O_RDONLY)
    null = os.open("/dev/null", os.O_WRONLY)
    t0 = time.perf_counter()
    pid = os.posix_spawn(args[0], args, os.environ, file_actions=[
        (os.POSIX_SPAWN_DUP2, fd, 0), (os.POSIX_SPAWN_DUP2, null, 1)])
    _, status = os.waitpid(pid, 0)
    times.append(time.perf_counter() - t0)
    os.close(fd); os.close(null)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"run failed: {args}")
    if cleanup != "-":
        for f in glob.glob(cleanup + "/queue/env/*") + glob.glob(cleanup + "/queue/msg/*"):
            os.unlink(f)
print(f"{statistics.median(times) * 1000:.2f}")
PY
}

med=$(timeit "$RUNS" - - "$K" --version)
printf 'RESULT\tstartup-floor\tkairan --version\tmedian_ms=%s\truns=%d\n' "$med" "$RUNS"

for n in 10 1000 10000; do
    H="$tmp/h$n"
    "$K" --home "$H" init --domain lists.example.test >/dev/null
    "$K" --home "$H" newlist bench >/dev/null
    "$K" --home "$H" config bench max_size 0
    sqlite3 "$H/kairan.db" "WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i+1 FROM c WHERE i < $n - 1)
        INSERT INTO members(list, address, since) SELECT 'bench', 'user' || i || '@example.test', 0 FROM c;"
    "$K" --home "$H" deliver bench -f user0@example.test < "$tmp/post10k"   # warm-up (migrations, caches)
    med=$(timeit "$RUNS" "$tmp/post10k" "$H" "$K" --home "$H" deliver bench -f user0@example.test)
    printf 'RESULT\tdeliver-10KB\tmembers=%d\tmedian_ms=%s\truns=%d\n' "$n" "$med" "$RUNS"
done
H="$tmp/h10000"
rss=$( { /usr/bin/time -f '%M' "$K" --home "$H" deliver bench -f user0@example.test < "$tmp/post10m"; } 2>&1 | tail -1)
printf 'RESULT\tdeliver-10MB\tmembers=10000\tpeak_rss_MB=%.1f\n' "$(echo "$rss / 1024" | bc -l)"
