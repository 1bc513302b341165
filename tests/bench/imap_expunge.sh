#!/bin/bash
# imap_expunge.sh - benchmark of `kairan imapd` announcing posts that
# leave the archive, against Dovecot's imapd in the same run.  An archive
# of MSGS messages (kairan: spool + archive rows, each archived 10 s after
# the one before; Dovecot: the same bytes in a Maildir), python3 imaplib:
#   - IDLE latency of an expiry: `kairan maintain --task archive_expire`
#     removes the oldest post / one file is removed from the Maildir,
#     until the idling client reads `* N EXPUNGE` (median of RUNS; the
#     maintain run's own time is a figure of its own);
#   - NOOP after GONE posts left: the NOOP's time, with its GONE EXPUNGEs;
#   - the cost of idling: IDLERS sessions in IDLE for 10 s while
#     kairan.db is written 10 times a second (kairan looks at the archive
#     again after every such write; Dovecot's Maildir does not change):
#     CPU seconds of the server's processes (kairan also without writes;
#     after its background search indexing is done).
# Not run by CI.
#
# usage: tests/bench/imap_expunge.sh   (env: MSGS=10000 SIZE=300 RUNS=5
#        GONE=100 IDLERS=20 RUN_USER=nobody KAIRAN=./kairan)
# Output: RESULT lines, tab separated.
set -u
cd "$(dirname "$0")/../.." || exit 1
KAIRAN=${KAIRAN:-$PWD/kairan}
MSGS=${MSGS:-10000}
SIZE=${SIZE:-300}
RUNS=${RUNS:-5}
GONE=${GONE:-100}
IDLERS=${IDLERS:-20}
RUN_USER=${RUN_USER:-nobody}
DOVECOT=${DOVECOT:-/usr/sbin/dovecot}
PY=${PY:-python3}
HOST=127.0.0.1

PIDS=()
TMP=$(mktemp -d /tmp/kairan-imapexp-bench.XXXXXX) || exit 1
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
# cpu PID... - user+system seconds of the processes and their children
cpu() {
	local t=0 p
	for p in "$@"; do
		[ -r "/proc/$p/stat" ] || continue
		t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat")))
	done
	awk -v t="$t" -v hz="$(getconf CLK_TCK)" 'BEGIN{ printf "%.2f\n", t/hz }'
}
# children PID - the direct children (Dovecot: one imap process per session)
children() { awk -v pp="$1" '$4 == pp {print $1}' /proc/[0-9]*/stat 2>/dev/null; }

[ -x "$KAIRAN" ] || { echo "build kairan first (make)" >&2; exit 1; }

NOW0=$(date +%s)
K="$TMP/kairan"
"$KAIRAN" --home "$K" init --domain lists.example.test >/dev/null || exit 1
"$KAIRAN" --home "$K" newlist bench --owner owner@example.org >/dev/null || exit 1
"$KAIRAN" --home "$K" subscribe bench reader@example.org >/dev/null || exit 1
echo benchpass | "$KAIRAN" --home "$K" passwd bench reader@example.org >/dev/null || exit 1
"$KAIRAN" --home "$K" config bench archive_expire 1d >/dev/null || exit 1
D="$TMP/dovecot"
mkdir -p "$D/Maildir/cur" "$D/Maildir/new" "$D/Maildir/tmp" "$D/run" "$D/state" "$D/home"
"$PY" - "$K" "$D/Maildir/cur" "$MSGS" "$SIZE" "$NOW0" <<'EOF' || exit 1
import os, sqlite3, sys
home, maildir, n, size, now0 = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
arch = os.path.join(home, "spool", "bench", "archive")
line = b"The quick brown fox jumps over the lazy dog 0123456789 abcdefghij\n"
db = sqlite3.connect(os.path.join(home, "kairan.db"))
rows = []
for i in range(1, n + 1):
    hdr = (f"From: sender@example.test\nTo: bench@lists.example.test\n"
           f"Subject: [bench:{i:05d}] message {i}\nMessage-ID: <m{i}@example.test>\n"
           f"Date: Mon, 1 Jan 2024 00:00:00 +0000\n\n").encode()
    body = (line * (size // len(line) + 1))[:max(0, size - len(hdr))]
    data = hdr + (body[:body.rfind(b"\n") + 1] or b"x\n")
    with open(os.path.join(arch, str(i)), "wb") as f:
        f.write(data)
    with open(os.path.join(maildir, f"{1700000000 + i:012d}.M{i}P1.bench:2,S"), "wb") as f:
        f.write(data)
    rows.append(("bench", i, f"m{i}@example.test", 1704067200, "sender@example.test", f"message {i}",
                 len(data), now0 + 10 * i))
db.executemany("INSERT INTO archive(list, num, message_id, date, from_addr, subject, size, archived)"
               " VALUES(?, ?, ?, ?, ?, ?, ?, ?)", rows)
db.execute("UPDATE lists SET seq = ? WHERE name = 'bench'", (n,))
db.commit()
EOF

# kexpire K: posts 1..K expired (archive_expire = 1d: the clock moved so
# that the cutoff falls between post K and post K+1)
cat >"$TMP/kexpire.sh" <<EOF
#!/bin/sh
off=\$(( $NOW0 + 10 * \$1 + 5 + 86400 - \$(date +%s) ))
KAIRAN_TEST_NOW_OFFSET=\$off exec "$KAIRAN" --home "$K" maintain --list bench --task archive_expire --now >/dev/null
EOF
# dexpire K: the K oldest files of the Maildir removed
cat >"$TMP/dexpire.sh" <<EOF
#!/bin/sh
i=1
while [ \$i -le \$1 ]; do rm -f "$D"/Maildir/cur/\$(printf %012d \$((1700000000 + i))).M\$i"P1.bench:2,S"; i=\$((i + 1)); done
EOF
chmod +x "$TMP/kexpire.sh" "$TMP/dexpire.sh"

cat >"$TMP/client.py" <<'EOF'
import imaplib, subprocess, sys, time
mode, port, user, remover = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
c = imaplib.IMAP4("127.0.0.1", port, timeout=300)
c.login(user, "benchpass")
c.select("INBOX")
if mode.startswith("idle:"):          # idle:K - expire up to K, time until the EXPUNGE
    k = int(mode[5:])
    c.send(b"i1 IDLE\r\n")
    assert c.readline().startswith(b"+")
    time.sleep(0.3)
    t0 = time.perf_counter()
    subprocess.run(remover + [str(k)], check=True)
    t1 = time.perf_counter()
    while not c.readline().endswith(b"EXPUNGE\r\n"):
        pass
    print(f"{time.perf_counter() - t1:.4f} {t1 - t0:.4f}")
    c.send(b"DONE\r\n")
    while not c.readline().startswith(b"i1 "):
        pass
elif mode.startswith("noop:"):        # noop:A:B - expire from A+1 to B, time the NOOP
    a, b = map(int, mode[5:].split(":"))
    subprocess.run(remover + [str(b)], check=True)
    time.sleep(0.5)
    t0 = time.perf_counter()
    c.send(b"n1 NOOP\r\n")
    n = 0
    while True:
        line = c.readline()
        if line.startswith(b"n1 "):
            break
        n += line.endswith(b"EXPUNGE\r\n")
    print(f"{time.perf_counter() - t0:.4f} {n}")
    assert n == b - a, (n, b - a)
elif mode == "idler":
    c.send(b"i1 IDLE\r\n")
    assert c.readline().startswith(b"+")
    time.sleep(float(remover[0]))
    c.send(b"DONE\r\n")
    while not c.readline().startswith(b"i1 "):
        pass
c.logout()
EOF

# bench NAME PORT USER PIDS-FN REMOVER
bench() {
	local name=$1 port=$2 user=$3 pidsfn=$4 remover=$5 i out lat=() rm=() k=0 c0 c1 ipids=() w
	for i in $(seq 1 "$RUNS"); do
		k=$((k + 1))
		out=$("$PY" "$TMP/client.py" "idle:$k" "$port" "$user" "$remover") || return 1
		lat+=("${out% *}")
		rm+=("${out#* }")
	done
	printf 'RESULT\t%s\tIDLE sees an expiry\tmsgs=%d\tmedian_s=%s\tremover_median_s=%s\truns_s=%s\n' "$name" "$MSGS" \
		"$(median "${lat[@]}")" "$(median "${rm[@]}")" "$(IFS=,; echo "${lat[*]}")"
	out=$("$PY" "$TMP/client.py" "noop:$k:$((k + GONE))" "$port" "$user" "$remover") || return 1
	k=$((k + GONE))
	printf 'RESULT\t%s\tNOOP after posts left\tgone=%d\tseconds=%s\texpunges=%s\n' "$name" "$GONE" "${out% *}" "${out#* }"
	idlers "$name" "$port" "$user" "$pidsfn" 0
	[ "$name" = kairan-imapd ] && idlers "$name" "$port" "$user" "$pidsfn" 10
	return 0
}

# idlers NAME PORT USER PIDS-FN WRITES: IDLERS sessions in IDLE for 10 s,
# kairan.db written WRITES times a second meanwhile (0 or 10)
idlers() {
	local name=$1 port=$2 user=$3 pidsfn=$4 writes=$5 i c0 c1 ipids=() w
	for i in $(seq 1 "$IDLERS"); do
		"$PY" "$TMP/client.py" idler "$port" "$user" 12 &
		ipids+=($!)
	done
	sleep 1.5
	c0=$(cpu $($pidsfn))
	if [ "$writes" = 10 ]; then
		"$PY" - "$K/kairan.db" <<'EOF'
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], timeout=10)
for i in range(100):
    db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES('bench_tick', ?)", (str(i),))
    db.commit()
    time.sleep(0.1)
EOF
	else
		sleep 10
	fi
	c1=$(cpu $($pidsfn))
	for w in "${ipids[@]}"; do wait "$w"; done
	printf 'RESULT\t%s\t%d sessions in IDLE for 10 s\tdb_writes_per_s=%s\tcpu_s=%s\n' "$name" "$IDLERS" \
		"$writes" "$(awk -v a="$c0" -v b="$c1" 'BEGIN{printf "%.2f", b-a}')"
}

echo "# $MSGS messages of ~$SIZE B; python3 imaplib; $(nproc) CPUs"
KPORT=$(free_port)
"$KAIRAN" --home "$K" imapd --listen "$HOST:$KPORT" >"$TMP/imapd.out" 2>&1 &
KPID=$!
PIDS+=("$KPID")
wait_port "$KPORT" || { cat "$TMP/imapd.out" >&2; exit 1; }
kpids() { echo "$KPID"; }
# imapd indexes the archive for SEARCH in the background: let it finish
"$PY" - "$K/kairan.db" <<'EOF'
import sqlite3, sys, time
t0 = time.perf_counter()
db = sqlite3.connect(sys.argv[1], timeout=60)
while db.execute("SELECT COUNT(*) FROM archive WHERE text_indexed = 0").fetchone()[0] and time.perf_counter() - t0 < 900:
    time.sleep(0.2)
EOF
bench kairan-imapd "$KPORT" "reader@example.org/bench" kpids "$TMP/kexpire.sh" || exit 1

if [ -x "$DOVECOT" ] && [ -x /usr/lib/dovecot/imap ]; then
	DPORT=$(free_port)
	RUN_GROUP=$(id -gn "$RUN_USER")
	cat >"$D/dovecot.conf" <<EOF
base_dir = $D/run
state_dir = $D/state
instance_name = kairan-imapexp-bench-$$
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
	chown -R "$RUN_USER:$RUN_GROUP" "$D"
	chmod 755 "$TMP" "$D"
	setpriv --reuid="$RUN_USER" --regid="$RUN_GROUP" --clear-groups \
		"$DOVECOT" -F -c "$D/dovecot.conf" >"$D/master.out" 2>&1 &
	DPID=$!
	PIDS+=("$DPID")
	wait_port "$DPORT" || { cat "$D/master.out" "$D/dovecot.log" >&2; exit 1; }
	echo "# $("$DOVECOT" --version | cut -d' ' -f1)"
	dpids() { echo "$DPID"; children "$DPID"; }
	cat >"$TMP/dexpire-as.sh" <<EOF
#!/bin/sh
exec setpriv --reuid="$RUN_USER" --regid="$RUN_GROUP" --clear-groups "$TMP/dexpire.sh" "\$@"
EOF
	chmod +x "$TMP/dexpire-as.sh"
	bench dovecot-imapd "$DPORT" bench dpids "$TMP/dexpire-as.sh" || { cat "$D/dovecot.log" >&2; exit 1; }
fi
