#!/usr/bin/env bash
# import.sh - benchmark of `kairan import`: a POSTS-post mbox (about 1 KB
# each) into a list's archive, a MEMBERS-member list (fml actives), and
# `kairan export --mbox` of that archive: posts/s, members/s, peak RSS.
# Beside it, the peers on the same machine: Python's mailbox module
# splitting the same mbox into one file a post (what Mailman's bin/arch
# and most converters do), and mlmmj-sub adding subscribers one call each
# (mlmmj's own tool; measured on SUBS addresses, the rate extrapolated).
# Prints tab-separated RESULT lines; not a timed test (run by hand).
#   usage: tests/bench/import.sh [path/to/kairan]
#   env: POSTS=100000 MEMBERS=100000 SUBS=2000 INDEXED=10000 (posts imported
#   with the search index built, the default; the 100,000 go in with --no-index)
set -euo pipefail
K=${1:-$(dirname "$0")/../../build/kairan}
K=$(readlink -f "$K")
POSTS=${POSTS:-100000}
MEMBERS=${MEMBERS:-100000}
SUBS=${SUBS:-2000}
INDEXED=${INDEXED:-10000}
tmp=$(mktemp -d /tmp/kairan-bench-import-XXXXXX)
trap 'rm -rf "$tmp"' EXIT

python3 - "$tmp" "$POSTS" "$MEMBERS" <<'PY'
import os, sys
d, posts, members = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
body = ("The quick brown fox jumps over the lazy dog. 0123456789 abcdefghij\n" * 12)
with open(os.path.join(d, "big.mbox"), "w") as f:
    for i in range(posts):
        day, sec = divmod(i, 86400)
        f.write(f"From user{i % 500}@example.test Mon Nov 23 {sec // 3600 % 24:02d}:{sec // 60 % 60:02d}:{sec % 60:02d} 2026\n"
                f"From: User {i % 500} <user{i % 500}@example.test>\nTo: bench@example.test\n"
                f"Subject: post {i}\nMessage-ID: <p{i}@example.test>\n"
                f"Date: {1 + day % 28:02d} Nov 2026 {sec // 3600 % 24:02d}:{sec // 60 % 60:02d}:{sec % 60:02d} +0000\n"
                + (f"In-Reply-To: <p{i - 1}@example.test>\n" if i % 3 else "") +
                f"\n{body}>From quoted\n\n")
fml = os.path.join(d, "fml")
os.makedirs(fml)
open(os.path.join(fml, "config.ph"), "w").write('$MAIL_LIST = "bench\\@example.test";\n1;\n')
with open(os.path.join(fml, "actives"), "w") as f:
    for i in range(members):
        f.write(f"user{i:06d}@example.test" + (" m=3u\n" if i % 10 == 0 else "\n"))
with open(os.path.join(d, "subs"), "w") as f:
    for i in range(members):
        f.write(f"user{i:06d}@example.test\n")
PY
mbox_mb=$(( $(stat -c %s "$tmp/big.mbox") / 1048576 ))

# run NAME COUNT CMD...: wall seconds and peak RSS (KB) of one run, via GNU time's -f
run() {
    local name=$1 count=$2
    shift 2
    /usr/bin/time -f "%e %M" -o "$tmp/time" "$@" >"$tmp/out" 2>"$tmp/err" || { cat "$tmp/err" >&2; exit 1; }
    read -r secs rss <"$tmp/time"
    python3 -c "import sys; n,s,r=int(sys.argv[2]),float(sys.argv[3]),int(sys.argv[4]); print(f'RESULT\t{sys.argv[1]}\t{n}\t{s:.2f} s\t{n/max(s,0.001):.0f}/s\tpeak RSS {r//1024} MB')" \
        "$name" "$count" "$secs" "$rss"
}

"$K" --home "$tmp/home" init --domain lists.example.test >/dev/null
"$K" --home "$tmp/home" newlist bench --owner owner@example.test >/dev/null
echo "# mbox: $POSTS posts, $mbox_mb MB; members: $MEMBERS"
run "kairan import mbox --no-index (posts)" "$POSTS" "$K" --home "$tmp/home" import mbox "$tmp/big.mbox" --as bench --no-index
n=$(ls "$tmp/home/spool/bench/archive" | wc -l)
[ "$n" = "$POSTS" ] || { echo "only $n posts archived" >&2; exit 1; }
# the search index of lib/archive_search.c, built after the commit (the
# default): measured on INDEXED posts of the same mbox
head -c "$(( $(stat -c %s "$tmp/big.mbox") * INDEXED / POSTS ))" "$tmp/big.mbox" >"$tmp/part.mbox"
parts=$(grep -c '^From ' "$tmp/part.mbox")
"$K" --home "$tmp/home" newlist indexed --owner owner@example.test >/dev/null
run "kairan import mbox, indexed for search (posts)" "$parts" "$K" --home "$tmp/home" import mbox "$tmp/part.mbox" --as indexed
run "kairan export --mbox (posts)" "$POSTS" sh -c "'$K' --home '$tmp/home' export bench --mbox >'$tmp/export.mbox'"
run "kairan import fml (members)" "$MEMBERS" "$K" --home "$tmp/home" import fml "$tmp/fml" --as members
m=$("$K" --home "$tmp/home" members members | wc -l)
[ "$m" = "$MEMBERS" ] || { echo "only $m members imported" >&2; exit 1; }

# peers
mkdir -p "$tmp/pyarch"
run "peer: python3 mailbox.mbox split to files (posts)" "$POSTS" python3 -c '
import mailbox, sys, os
for i, m in enumerate(mailbox.mbox(sys.argv[1]), 1):
    with open(os.path.join(sys.argv[2], str(i)), "wb") as f:
        f.write(m.as_bytes())
' "$tmp/big.mbox" "$tmp/pyarch"
if [ -x /usr/bin/mlmmj-sub ] && command -v mlmmj-make-ml >/dev/null; then
    printf 'example.test\nowner@example.test\nen\n' | mlmmj-make-ml -L peer -s "$tmp/mlmmj" >/dev/null 2>&1
    head -n "$SUBS" "$tmp/subs" >"$tmp/subs.part"
    run "peer: mlmmj-sub one call a subscriber (members)" "$SUBS" sh -c "while read -r a; do /usr/bin/mlmmj-sub -L '$tmp/mlmmj/peer' -a \"\$a\" -f -q -s -U; done <'$tmp/subs.part'"
else
    echo "# mlmmj not installed: no mlmmj-sub figure"
fi
