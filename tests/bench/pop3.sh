#!/bin/bash
# pop3.sh - benchmark of `kairan pop3d` against Dovecot's POP3 in the same
# run: a list archive of MSGS messages (kairan: spool/LIST/archive/N plus
# the archive index; Dovecot: the same bytes in a Maildir), fetched with
# python3 poplib (USER/PASS, LIST, RETR of every message, QUIT) by one
# client and by CLIENTS clients at once.  Prints messages/s for each, and
# the RSS of kairan pop3d (current and peak).  Not run by CI.
#
# The big archive is written directly (10,000 runs of `kairan deliver`
# would take minutes); the e2e tests build theirs through deliver.
# Dovecot runs unprivileged (as RUN_USER, private base_dir/config in a
# temp dir, loopback only); the system dovecot service is not touched.
#
# usage: tests/bench/pop3.sh   (env: MSGS=10000 SIZE=300 CLIENTS=20 RUNS=3
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
TMP=$(mktemp -d /tmp/kairan-pop3-bench.XXXXXX) || exit 1
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

# ---- one POP3 session: USER/PASS, LIST, RETR all, QUIT; prints "messages bytes"
cat >"$TMP/session.py" <<'EOF'
import poplib, sys
host, port, user, pw, n = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
p = poplib.POP3(host, port, timeout=300)
p.user(user); p.pass_(pw)
resp, listing, _ = p.list()
assert len(listing) == n, (len(listing), n)
total = 0
for entry in listing:
    resp, lines, octets = p.retr(entry.split()[0].decode())
    total += octets
p.quit()
print(n, total)
EOF

# run_clients PORT USER K -> seconds for K sessions at once (all must succeed)
run_clients() {
	local port=$1 user=$2 k=$3 i pids=() rc=0 t0 t1
	t0=$(date +%s.%N)
	for i in $(seq 1 "$k"); do
		"$PY" "$TMP/session.py" "$HOST" "$port" "$user" benchpass "$MSGS" >"$TMP/out.$i" 2>&1 &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i" || rc=1; done
	t1=$(date +%s.%N)
	[ "$rc" = 0 ] || { echo "ERROR: a POP3 session failed:" >&2; cat "$TMP"/out.* >&2; return 1; }
	awk -v a="$t0" -v b="$t1" 'BEGIN{ printf "%.4f\n", b-a }'
}

# bench_server NAME PORT USER: cold single, warm single (median), CLIENTS at once (median)
bench_server() {
	local name=$1 port=$2 user=$3 t times=() med
	t=$(run_clients "$port" "$user" 1) || return 1
	printf 'RESULT\t%s\t1 client cold\tmsgs=%d\tseconds=%s\tmsgs_per_s=%s\n' "$name" "$MSGS" "$t" "$(fdiv "$MSGS" "$t")"
	for i in $(seq 1 "$RUNS"); do times+=("$(run_clients "$port" "$user" 1)") || return 1; done
	med=$(median "${times[@]}")
	printf 'RESULT\t%s\t1 client\tmsgs=%d\tmedian_s=%s\tmsgs_per_s=%s\n' "$name" "$MSGS" "$med" "$(fdiv "$MSGS" "$med")"
	times=()
	for i in $(seq 1 "$RUNS"); do times+=("$(run_clients "$port" "$user" "$CLIENTS")") || return 1; done
	med=$(median "${times[@]}")
	printf 'RESULT\t%s\t%d clients\tmsgs=%d\tmedian_s=%s\tmsgs_per_s=%s\n' "$name" "$CLIENTS" \
		"$((MSGS * CLIENTS))" "$med" "$(fdiv "$((MSGS * CLIENTS))" "$med")"
}

echo "# LIST + RETR of $MSGS messages of ~$SIZE B by python3 poplib; 1 client, then $CLIENTS at once; $(nproc) CPUs"

# ---- kairan pop3d
KPORT=$(free_port)
"$KAIRAN" --home "$K" pop3d --listen "$HOST:$KPORT" >"$TMP/pop3d.out" 2>&1 &
KPID=$!
PIDS+=("$KPID")
wait_port "$KPORT" || { cat "$TMP/pop3d.out" >&2; exit 1; }
read -r r0 h0 < <(rss "$KPID")
printf 'RESULT\tkairan-pop3d\trss_idle_kb=%s\n' "$r0"
bench_server kairan-pop3d "$KPORT" "reader@example.org/bench" || exit 1
read -r r1 h1 < <(rss "$KPID")
printf 'RESULT\tkairan-pop3d\trss_after_kb=%s\trss_peak_kb=%s\n' "$r1" "$h1"

# ---- Dovecot
if [ -x "$DOVECOT" ] && [ -x /usr/lib/dovecot/pop3 ]; then
	D="$TMP/dovecot"
	DPORT=$(free_port)
	RUN_GROUP=$(id -gn "$RUN_USER")
	cat >"$D/dovecot.conf" <<EOF
base_dir = $D/run
state_dir = $D/state
instance_name = kairan-bench-$$
log_path = $D/dovecot.log
info_log_path = $D/dovecot.log
protocols = pop3
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
pop3_uidl_format = %08Xu%08Xv
passdb {
  driver = static
  args = password=benchpass
}
userdb {
  driver = static
  args = uid=$RUN_USER gid=$RUN_GROUP home=$D/home
}
service pop3-login {
  chroot =
  inet_listener pop3 {
    address = $HOST
    port = $DPORT
  }
}
service imap-login {
  inet_listener imap {
    port = 0
  }
}
service anvil {
  chroot =
}
EOF
	chown -R "$RUN_USER:$RUN_GROUP" "$D"
	chmod 755 "$TMP" "$D"
	setpriv --reuid="$RUN_USER" --regid="$RUN_GROUP" --clear-groups \
		"$DOVECOT" -F -c "$D/dovecot.conf" >"$D/master.out" 2>&1 &
	DPID=$!
	PIDS+=("$DPID")
	wait_port "$DPORT" || { cat "$D/master.out" "$D/dovecot.log" >&2; exit 1; }
	echo "# $("$DOVECOT" --version | cut -d' ' -f1)"
	bench_server dovecot-pop3 "$DPORT" bench || { cat "$D/dovecot.log" >&2; exit 1; }
else
	echo "# dovecot-pop3d not installed: no comparison (apt-get install dovecot-pop3d)"
fi
