#!/bin/bash
# imap.sh - benchmark of `kairan imapd` against Dovecot's imapd in the same
# run: a list archive of MSGS messages (kairan: spool/LIST/archive/N plus
# the archive index; Dovecot: the same bytes in a Maildir), read with
# python3 imaplib: LOGIN, SELECT, UID FETCH 1:* BODY.PEEK[] by one client
# and by CLIENTS clients at once; SEARCH TEXT over the whole archive
# (first and repeated; kairan imapd builds the archive's FTS5 index in
# the background after it starts - the script waits for that and prints
# how long it took - Dovecot without an FTS plugin reads the messages
# and caches what it parsed); and IDLE latency: a
# new post (kairan deliver / a file moved into Dovecot's Maildir) until
# the idling client sees EXISTS.  Prints messages/s and seconds, and the
# RSS of kairan imapd (idle, after, peak).  Not run by CI.
#
# The big archive is written directly (10,000 runs of `kairan deliver`
# would take minutes); the e2e tests build theirs through deliver.
# Dovecot runs unprivileged (as RUN_USER, private base_dir/config in a
# temp dir, loopback only); the system dovecot service is not touched.
#
# usage: tests/bench/imap.sh   (env: MSGS=10000 SIZE=300 CLIENTS=20 RUNS=3
#                               RUN_USER=nobody KAIRAN=./kairan)
# Output: RESULT lines, tab separated.
set -u
cd "$(dirname "$0")/../.." || exit 1
KAIRAN=${KAIRAN:-$PWD/kairan}
MSGS=${MSGS:-10000}
SIZE=${SIZE:-300}
CLIENTS=${CLIENTS:-20}
RUNS=${RUNS:-3}
RUN_USER=${RUN_USER:-nobody}
DOVECOT=${DOVECOT:-/usr/sbin/dovecot}
PY=${PY:-python3}
HOST=127.0.0.1

PIDS=()
TMP=$(mktemp -d /tmp/kairan-imap-bench.XXXXXX) || exit 1
cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	[ -n "${BENCH_KEEP:-}" ] || rm -rf -- "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
	local i
	for i in $(seq 1 200); do
		"$PY" -c "import socket,sys; socket.create_connection(('$HOST',$1),0.2)" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "ERROR: nothing listening on port $1" >&2
	return 1
}
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END{ if(NR%2) print a[(NR+1)/2]; else printf "%.6f\n",(a[NR/2]+a[NR/2+1])/2 }'; }
fdiv() { awk -v a="$1" -v b="$2" 'BEGIN{ if(b==0) print "inf"; else printf "%.0f\n", a/b }'; }
rss() { awk '/^VmRSS:/{r=$2} /^VmHWM:/{h=$2} END{print r, h}' "/proc/$1/status"; }

[ -x "$KAIRAN" ] || { echo "build kairan first (make)" >&2; exit 1; }

# ---- the archive: a kairan instance, and a Maildir with the same bytes
K="$TMP/kairan"
"$KAIRAN" --home "$K" init --domain lists.example.test >/dev/null || exit 1
"$KAIRAN" --home "$K" newlist bench --owner owner@example.org >/dev/null || exit 1
"$KAIRAN" --home "$K" subscribe bench reader@example.org >/dev/null || exit 1
echo benchpass | "$KAIRAN" --home "$K" passwd bench reader@example.org >/dev/null || exit 1
mkdir -p "$TMP/dovecot/Maildir/cur" "$TMP/dovecot/Maildir/new" "$TMP/dovecot/Maildir/tmp" \
	"$TMP/dovecot/run" "$TMP/dovecot/state" "$TMP/dovecot/home"
"$PY" - "$K" "$TMP/dovecot/Maildir/cur" "$MSGS" "$SIZE" <<'EOF' || exit 1
import os, sqlite3, sys
home, maildir, n, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
arch = os.path.join(home, "spool", "bench", "archive")
line = b"The quick brown fox jumps over the lazy dog 0123456789 abcdefghij\n"
db = sqlite3.connect(os.path.join(home, "kairan.db"))
rows = []
for i in range(1, n + 1):
    hdr = (f"From: sender@example.test\nTo: bench@lists.example.test\n"
           f"Subject: [bench:{i:05d}] message {i}\nMessage-ID: <m{i}@example.test>\n"
           f"Date: Mon, 1 Jan 2024 00:00:00 +0000\nX-ML-Name: bench\nX-Mail-Count: {i}\n"
           f"Precedence: bulk\n\n").encode()
    body = (line * (size // len(line) + 1))[:max(0, size - len(hdr))]
    body = body[:body.rfind(b"\n") + 1] or b"x\n"
    data = hdr + body
    with open(os.path.join(arch, str(i)), "wb") as f:
        f.write(data)
    with open(os.path.join(maildir, f"{1700000000 + i}.M{i}P1.bench:2,S"), "wb") as f:
        f.write(data)
    rows.append(("bench", i, f"m{i}@example.test", 1704067200, "sender@example.test",
                 f"message {i}", len(data)))
db.executemany("INSERT INTO archive(list, num, message_id, date, from_addr, subject, size)"
               " VALUES(?, ?, ?, ?, ?, ?, ?)", rows)
db.execute("UPDATE lists SET seq = ? WHERE name = 'bench'", (n,))
db.commit()
EOF

# ---- the client: a python3 imaplib script for every case
cat >"$TMP/client.py" <<'EOF'
import imaplib, subprocess, sys, time
mode, host, port, user, pw, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5], int(sys.argv[6])
c = imaplib.IMAP4(host, port, timeout=300)
c.login(user, pw)
typ, data = c.select("INBOX", readonly=True)
assert int(data[0]) >= n, data
if mode == "fetch":
    typ, data = c.uid("FETCH", "1:*", "(BODY.PEEK[])")
    bodies = [d[1] for d in data if isinstance(d, tuple)]
    assert typ == "OK" and len(bodies) >= n, (typ, len(bodies))
    print(len(bodies), sum(map(len, bodies)))
elif mode == "search":
    t0 = time.perf_counter()
    typ, data = c.uid("SEARCH", "TEXT", '"message 5000"')
    t1 = time.perf_counter()
    typ, data2 = c.uid("SEARCH", "TEXT", '"message 7000"')
    t2 = time.perf_counter()
    assert data[0].split() == [b"5000"], data
    assert data2[0].split() == [b"7000"], data2
    print(f"{t1 - t0:.4f} {t2 - t1:.4f}")
elif mode == "idle":
    # argv[7:]: the command that adds one message
    c.send(b"i1 IDLE\r\n")
    assert c.readline().startswith(b"+")
    time.sleep(0.3)
    subprocess.run(sys.argv[7:], check=True, capture_output=True)
    t0 = time.perf_counter()
    while not c.readline().endswith(b"EXISTS\r\n"):
        pass
    print(f"{time.perf_counter() - t0:.4f}")
    c.send(b"DONE\r\n")
    while not c.readline().startswith(b"i1 "):
        pass
c.logout()
EOF

# run_clients PORT USER K -> seconds for K fetching sessions at once (all must succeed)
run_clients() {
	local port=$1 user=$2 k=$3 i pids=() rc=0 t0 t1
	t0=$(date +%s.%N)
	for i in $(seq 1 "$k"); do
		"$PY" "$TMP/client.py" fetch "$HOST" "$port" "$user" benchpass "$MSGS" >"$TMP/out.$i" 2>&1 &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i" || rc=1; done
	t1=$(date +%s.%N)
	[ "$rc" = 0 ] || { echo "ERROR: an IMAP session failed:" >&2; cat "$TMP"/out.* >&2; return 1; }
	awk -v a="$t0" -v b="$t1" 'BEGIN{ printf "%.4f\n", b-a }'
}

# bench_server NAME PORT USER ADD-COMMAND...: fetch cold, warm (median),
# CLIENTS at once (median), SEARCH TEXT, IDLE latency (median)
bench_server() {
	local name=$1 port=$2 user=$3 t times=() med s1 s2
	shift 3
	t=$(run_clients "$port" "$user" 1) || return 1
	printf 'RESULT\t%s\tfetch 1 client cold\tmsgs=%d\tseconds=%s\tmsgs_per_s=%s\n' "$name" "$MSGS" "$t" "$(fdiv "$MSGS" "$t")"
	for i in $(seq 1 "$RUNS"); do times+=("$(run_clients "$port" "$user" 1)") || return 1; done
	med=$(median "${times[@]}")
	printf 'RESULT\t%s\tfetch 1 client\tmsgs=%d\tmedian_s=%s\tmsgs_per_s=%s\n' "$name" "$MSGS" "$med" "$(fdiv "$MSGS" "$med")"
	times=()
	for i in $(seq 1 "$RUNS"); do times+=("$(run_clients "$port" "$user" "$CLIENTS")") || return 1; done
	med=$(median "${times[@]}")
	printf 'RESULT\t%s\tfetch %d clients\tmsgs=%d\tmedian_s=%s\tmsgs_per_s=%s\n' "$name" "$CLIENTS" \
		"$((MSGS * CLIENTS))" "$med" "$(fdiv "$((MSGS * CLIENTS))" "$med")"
	read -r s1 s2 < <("$PY" "$TMP/client.py" search "$HOST" "$port" "$user" benchpass "$MSGS")
	[ -n "${s2:-}" ] || { echo "ERROR: SEARCH failed" >&2; return 1; }
	printf 'RESULT\t%s\tSEARCH TEXT\tmsgs=%d\tfirst_s=%s\tagain_s=%s\n' "$name" "$MSGS" "$s1" "$s2"
	times=()
	for i in $(seq 1 "$RUNS"); do
		t=$("$PY" "$TMP/client.py" idle "$HOST" "$port" "$user" benchpass "$MSGS" "$@") || return 1
		times+=("$t")
	done
	printf 'RESULT\t%s\tIDLE latency\tmedian_s=%s\truns_s=%s\n' "$name" "$(median "${times[@]}")" "$(IFS=,; echo "${times[*]}")"
}

echo "# UID FETCH 1:* BODY.PEEK[] of $MSGS messages of ~$SIZE B by python3 imaplib; 1 client, then $CLIENTS at once; SEARCH TEXT; IDLE; $(nproc) CPUs"

# ---- kairan imapd
"$KAIRAN" --home "$K" config bench post_policy anyone >/dev/null || exit 1
cat >"$TMP/post.sh" <<EOF
#!/bin/sh
printf 'From: reader@example.org\nTo: bench@lists.example.test\nSubject: new\nMessage-ID: <new.%s@example.org>\nDate: Mon, 1 Jan 2024 00:00:00 +0000\n\nnew post\n' "\$(date +%s%N)" |
  "$KAIRAN" --home "$K" deliver bench -f reader@example.org
EOF
chmod +x "$TMP/post.sh"
KPORT=$(free_port)
"$KAIRAN" --home "$K" imapd --listen "$HOST:$KPORT" >"$TMP/imapd.out" 2>&1 &
KPID=$!
PIDS+=("$KPID")
wait_port "$KPORT" || { cat "$TMP/imapd.out" >&2; exit 1; }
read -r r0 h0 < <(rss "$KPID")
printf 'RESULT\tkairan-imapd\trss_idle_kb=%s\n' "$r0"
# imapd indexes the archive for SEARCH TEXT in the background: let it
# finish first (how long it took is a figure of its own)
t=$("$PY" - "$K/kairan.db" <<'EOF'
import sqlite3, sys, time
t0 = time.perf_counter()
db = sqlite3.connect(sys.argv[1], timeout=60)
while db.execute("SELECT COUNT(*) FROM archive WHERE text_indexed = 0").fetchone()[0] and time.perf_counter() - t0 < 900:
    time.sleep(0.2)
print(f"{time.perf_counter() - t0:.2f}")
EOF
)
printf 'RESULT\tkairan-imapd\tsearch index built in the background\tmsgs=%d\tseconds=%s\n' "$MSGS" "$t"
bench_server kairan-imapd "$KPORT" "reader@example.org/bench" "$TMP/post.sh" || exit 1
read -r r1 h1 < <(rss "$KPID")
printf 'RESULT\tkairan-imapd\trss_after_kb=%s\trss_peak_kb=%s\n' "$r1" "$h1"

# ---- Dovecot
if [ -x "$DOVECOT" ] && [ -x /usr/lib/dovecot/imap ]; then
	D="$TMP/dovecot"
	DPORT=$(free_port)
	RUN_GROUP=$(id -gn "$RUN_USER")
	cat >"$D/dovecot.conf" <<EOF
base_dir = $D/run
state_dir = $D/state
instance_name = kairan-bench-$$
log_path = $D/dovecot.log
info_log_path = $D/dovecot.log
protocols = imap
listen = $HOST
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
default_login_user = $RUN_USER
default_internal_user = $RUN_USER
default_internal_group = $RUN_GROUP
mail_location = maildir:$D/Maildir
mail_uid = $RUN_USER
mail_gid = $RUN_GROUP
first_valid_uid = 0
passdb {
  driver = static
  args = password=benchpass
}
userdb {
  driver = static
  args = uid=$RUN_USER gid=$RUN_GROUP home=$D/home
}
service imap-login {
  chroot =
  inet_listener imap {
    address = $HOST
    port = $DPORT
  }
  inet_listener imaps {
    port = 0
  }
}
service pop3-login {
  inet_listener pop3 {
    port = 0
  }
}
service anvil {
  chroot =
}
protocol imap {
  mail_max_userip_connections = 1000
}
EOF
	cat >"$TMP/dpost.sh" <<EOF
#!/bin/sh
f="$D/Maildir/tmp/\$(date +%s%N).new"
printf 'From: reader@example.org\nSubject: new\n\nnew post\n' >"\$f"
mv "\$f" "$D/Maildir/new/"
EOF
	chmod +x "$TMP/dpost.sh"
	chown -R "$RUN_USER:$RUN_GROUP" "$D"
	chmod 755 "$TMP" "$D"
	setpriv --reuid="$RUN_USER" --regid="$RUN_GROUP" --clear-groups \
		"$DOVECOT" -F -c "$D/dovecot.conf" >"$D/master.out" 2>&1 &
	DPID=$!
	PIDS+=("$DPID")
	wait_port "$DPORT" || { cat "$D/master.out" "$D/dovecot.log" >&2; exit 1; }
	echo "# $("$DOVECOT" --version | cut -d' ' -f1)"
	bench_server dovecot-imapd "$DPORT" bench \
		setpriv --reuid="$RUN_USER" --regid="$RUN_GROUP" --clear-groups "$TMP/dpost.sh" \
		|| { cat "$D/dovecot.log" >&2; exit 1; }
fi
