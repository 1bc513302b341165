#!/usr/bin/env bash
# moderation.sh - what the moderation tools cost a post (issue #17):
# median wall time of `kairan deliver` for a 10 KB post to a list of 10
# members without any rule, with 20 header_filters rules and 4 nonmember
# lists of 25 patterns each that do not match, with the 20th rule
# discarding the post, with an `Approved:` first body line (one PBKDF2
# check of the list password) and with a wrong one; side by side with the
# peer that has the same tool, mlmmj's control/access (regexes on header
# lines, first match decides: allow, moderate, discard, deny), measured
# the way ../shared/bench/mlmmj-fanout.sh runs it (mlmmj-receive -F, the
# list's relay an smtp-sink on 127.0.0.1), with no rule, 20 non-matching
# rules then `allow`, and the 20th rule discarding.
# kairan deliver queues and returns; mlmmj-receive -F also sends to the
# sink: the discard cases (nothing sent by either) compare like for like.
# Prints RESULT lines; run by hand, not a test.
#   usage: tests/bench/moderation.sh [path/to/kairan]   env: RUNS=21 PORT=2627
set -euo pipefail
K=$(readlink -f "${1:-$(dirname "$0")/../../build/kairan}")
RUNS=${RUNS:-21}
PORT=${PORT:-2627}
tmp=$(mktemp -d /tmp/kairan-bench-mod-XXXXXX)
sink_pid=""
cleanup() {
    [ -n "$sink_pid" ] && kill "$sink_pid" 2>/dev/null && wait "$sink_pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

PW=bench-pass-1
python3 - "$tmp" "$PW" <<'PY'
import sys
d, pw = sys.argv[1], sys.argv[2]
body = ("The quick brown fox jumps over the lazy dog. 0123456789 abcdefghij\n" * 150)[:10000]
def post(name, frm, first=""):
    hdr = (f"Return-Path: <{frm}>\nFrom: {frm}\nTo: bench@lists.example.test\nSubject: bench post\n"
           f"Message-ID: <{name}@x>\nMIME-Version: 1.0\nContent-Type: text/plain; charset=us-ascii\n\n")
    open(f"{d}/{name}", "w").write(hdr + first + body)
post("plain", "user0@example.test")
post("outsider", "outsider@example.org")
post("approved", "guest@example.net", f"Approved: {pw}\n\n")
post("wrong", "guest@example.net", "Approved: not-it\n\n")
rules = [f"X-Header-{i}: ^value-{i}$ -> hold" for i in range(19)]
open(f"{d}/rules", "w").write("\n".join(rules + ["X-Never: x -> hold"]))
open(f"{d}/rules-discard", "w").write("\n".join(rules + ["Subject: bench -> discard"]))
open(f"{d}/patterns", "w").write(" ".join([f"*@host{i}.example" for i in range(20)] +
                                          [f"^nobody{i}@.*$" for i in range(5)]))
# mlmmj's control/access: the same 19 rules and a last one
acc = [f"moderate ^X-Header-{i}: value-{i}$" for i in range(19)]
open(f"{d}/access-allow", "w").write("\n".join(acc + ["allow ^From:"]) + "\n")
open(f"{d}/access-discard", "w").write("\n".join(acc + ["discard ^Subject: bench"]) + "\n")
PY

# Wall time of one run (posix_spawn + waitpid in Python); RUNS runs, the median in ms.
timeit() {  # timeit RUNS STDIN-FILE CLEANUP-DIR|- ARGS...
    python3 - "$@" <<'PY'
import os, sys, time, glob, statistics, shutil
runs, stdin_path, cleanup, args = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4:]
times = []
for n in range(runs + 1):                 # the first run warms the caches and is not counted
    fd = os.open(stdin_path, os.O_RDONLY)
    null = os.open("/dev/null", os.O_WRONLY)
    t0 = time.perf_counter()
    pid = os.posix_spawn(args[0], args, os.environ, file_actions=[
        (os.POSIX_SPAWN_DUP2, fd, 0), (os.POSIX_SPAWN_DUP2, null, 1), (os.POSIX_SPAWN_DUP2, null, 2)])
    _, status = os.waitpid(pid, 0)
    if n:
        times.append(time.perf_counter() - t0)
    os.close(fd); os.close(null)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"run failed: {args}")
    if cleanup != "-":
        for f in glob.glob(cleanup + "/queue/env/*") + glob.glob(cleanup + "/queue/msg/*") + \
                 glob.glob(cleanup + "/spool/bench/archive/*") + glob.glob(cleanup + "/spool/bench/held/*"):
            if os.path.isfile(f):
                os.unlink(f)
print(f"{statistics.median(times) * 1000:.2f}")
PY
}

# ---- kairan ----
H=$tmp/home
"$K" --home "$H" init --domain lists.example.test >/dev/null
echo "$PW" >"$tmp/pw"
"$K" --home "$H" newlist bench --owner owner@example.test --password-file "$tmp/pw" >/dev/null
for i in $(seq 0 9); do "$K" --home "$H" subscribe bench "user$i@example.test" >/dev/null; done
"$K" --home "$H" config bench dmarc off
"$K" --home "$H" config bench duplicate_window 0      # the same post again and again
"$K" --home "$H" config bench post_policy members-hold
"$K" --home "$H" config --global auth_guard_free 1000000 >/dev/null 2>&1 || true

kd() { timeit "$RUNS" "$tmp/$1" "$H" "$K" --home "$H" deliver bench -f "$2"; }
echo "# kairan deliver, 10 KB post, list of 10 members, median of $RUNS runs (ms)"
printf 'RESULT\tkairan-deliver\tcase=no-rules\tms=%s\n' "$(kd plain user0@example.test)"
"$K" --home "$H" config bench header_filters "$(cat "$tmp/rules")"
for k in accept_nonmembers hold_nonmembers reject_nonmembers discard_nonmembers; do
    "$K" --home "$H" config bench "$k" "$(cat "$tmp/patterns")"
done
printf 'RESULT\tkairan-deliver\tcase=20-rules-100-patterns-member\tms=%s\n' "$(kd plain user0@example.test)"
printf 'RESULT\tkairan-deliver\tcase=20-rules-100-patterns-nonmember-held\tms=%s\n' "$(kd outsider outsider@example.org)"
"$K" --home "$H" config bench header_filters "$(cat "$tmp/rules-discard")"
printf 'RESULT\tkairan-deliver\tcase=20th-rule-discards\tms=%s\n' "$(kd plain user0@example.test)"
"$K" --home "$H" config bench header_filters ""
printf 'RESULT\tkairan-deliver\tcase=approved-line-right\tms=%s\n' "$(kd approved guest@example.net)"
printf 'RESULT\tkairan-deliver\tcase=approved-line-wrong-held\tms=%s\n' "$(kd wrong guest@example.net)"

# ---- mlmmj (the peer) ----
MLMMJ_RECEIVE=/usr/bin/mlmmj-receive
SMTP_SINK=/usr/sbin/smtp-sink
if [ ! -x "$MLMMJ_RECEIVE" ] || [ ! -x "$SMTP_SINK" ]; then
    echo "# mlmmj or smtp-sink missing: no peer figures"
    exit 0
fi
mkdir -p "$tmp/sinkdump" && chmod 1777 "$tmp/sinkdump"
user=(); [ "$(id -u)" = 0 ] && user=(-u nobody)
"$SMTP_SINK" "${user[@]}" 127.0.0.1:$PORT 256 >/dev/null 2>&1 &
sink_pid=$!
sleep 0.5
make_list() {  # make_list DIR ACCESS-FILE|-
    local L=$1 d
    for d in incoming queue queue/discarded archive text subconf unsubconf bounce control moderation \
             subscribers.d digesters.d nomailsubs.d requeue; do mkdir -p "$L/$d"; done
    [ -d /usr/share/mlmmj/text.skel/en ] && cp -r /usr/share/mlmmj/text.skel/en/. "$L/text/"
    echo bench@lists.example.test >"$L/control/listaddress"
    echo owner@example.test >"$L/control/owner"
    echo 127.0.0.1 >"$L/control/relayhost"
    echo "$PORT" >"$L/control/smtpport"
    echo bench.test >"$L/control/smtphelo"
    : >"$L/control/verp"; echo 100 >"$L/control/maxverprecips"   # one transaction, as kairan's relay
    for i in $(seq 0 9); do echo "user$i@example.test"; done >"$L/subscribers.d/u"
    [ "$2" != - ] && cp "$2" "$L/control/access"
    return 0
}
md() { timeit "$RUNS" "$tmp/plain" - "$MLMMJ_RECEIVE" -F -L "$1"; }
echo "# mlmmj-receive -F (receive, process, send to smtp-sink), same post and list, median of $RUNS runs (ms)"
make_list "$tmp/ml-none" -
printf 'RESULT\tmlmmj-receive\tcase=no-rules\tms=%s\n' "$(md "$tmp/ml-none")"
make_list "$tmp/ml-allow" "$tmp/access-allow"
printf 'RESULT\tmlmmj-receive\tcase=20-access-rules-allow\tms=%s\n' "$(md "$tmp/ml-allow")"
make_list "$tmp/ml-discard" "$tmp/access-discard"
printf 'RESULT\tmlmmj-receive\tcase=20th-access-rule-discards\tms=%s\n' "$(md "$tmp/ml-discard")"
