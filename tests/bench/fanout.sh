#!/bin/bash
# fanout.sh - fan-out benchmark of kairan's relay: one ~1 KB post to N
# members, from `kairan deliver` until smtp-sink has seen every
# recipient; recipients/s and the relay's peak RSS (VmHWM).  In the same
# run, for comparison on this machine: mlmmj 1.3.0 into the same kind of
# sink (../shared/bench/mlmmj-fanout.sh: modes default and verp:1000 at
# N=1000, verp:1000 at N=10000) and the raw loopback limit, smtp-source
# into smtp-sink with N recipients in transactions of 1000 (1 session for
# N=1000, 2 sessions beyond).
#
# usage: tests/bench/fanout.sh [N...]        (default: 1000 10000)
#   env: KAIRAN=./kairan RUNS=3 (median)  MLMMJ=1 (0 skips mlmmj)
#        MLMMJ_BENCH=../shared/bench/mlmmj-fanout.sh
#        MODES="plain" - kairan cases, any of: plain (one copy for all, the
#          default), personal (personalize = yes with web_url: one
#          transaction per recipient, VERP, one-click header), and
#          personal+ed25519 / personal+rsa / plain+ed25519 / plain+rsa
#          (with a DKIM key of that type: personalised copies are re-signed
#          one by one).  SOURCE=0 skips the smtp-source case.
#          A mode may end in @D (plain@1000): the members are spread over D
#          domains (userN@dK.example.test), each with its own entry in the
#          route map, so the relay fans out over D destinations.
#        POSTFIX="1 1000" - also Postfix itself fanning the same list out
#          (root only): a private Postfix 3.7 on a loopback port
#          (../shared/recipes/postfix-loopback.md) gets one message with
#          N recipients over D domains (python smtplib, pipelined) and
#          relays it into the same kind of sink; timed from the first
#          command to the sink's last recipient.  POSTFIX="" skips it.
#   e.g. MODES="plain personal personal+ed25519 personal+rsa" MLMMJ=0 SOURCE=0 \
#        tests/bench/fanout.sh 1000
#        MODES="plain plain@1000" POSTFIX="1 1000" tests/bench/fanout.sh 10000
# The sink dumps every transaction to tmpfs (-D, as mlmmj-fanout.sh
# does) and the recipients are counted from its X-Rcpt-Args lines; the
# end time is the dump file's last modification.  kairan's figure runs
# from the start of `kairan deliver` (parsing, policy, archive, database,
# fsyncs) to the last recipient; relay_only is from the queue commit
# (the time in the queue ID) to the last recipient.
# Prints one RESULT line per case.  Not run by CI.
set -u
cd "$(dirname "$0")/../.." || exit 1
KAIRAN=${KAIRAN:-$PWD/kairan}
RUNS=${RUNS:-3}
MLMMJ=${MLMMJ:-1}
MLMMJ_BENCH=${MLMMJ_BENCH:-$PWD/../shared/bench/mlmmj-fanout.sh}
MODES=${MODES:-plain}
POSTFIX_DOMAINS=${POSTFIX-}
SOURCE_CASE=${SOURCE:-1}
SINK=/usr/sbin/smtp-sink
SOURCE=/usr/sbin/smtp-source
NS=("$@")
[ ${#NS[@]} -gt 0 ] || NS=(1000 10000)

PIDS=()
TMPS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	for p in "${TMPS[@]}"; do rm -rf -- "$p"; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }
wait_port() { local i; for i in $(seq 1 200); do ss -Hltn "sport = :$1" | grep -q . && return 0; sleep 0.025; done; return 1; }
count_rcpts() { if [ -f "$1" ]; then grep -c '^X-Rcpt-Args:' "$1"; else echo 0; fi; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END{ if(NR%2) print a[(NR+1)/2]; else printf "%.6f\n",(a[NR/2]+a[NR/2+1])/2 }'; }
fdiv() { awk -v a="$1" -v b="$2" 'BEGIN{ printf "%.0f\n", a/b }'; }
stop_pid() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; local k=() p; for p in "${PIDS[@]}"; do [ "$p" = "$1" ] || k+=("$p"); done; PIDS=("${k[@]}"); }

start_sink() {   # PORT DUMP -> SINK_PID
	local args=(-c -D "$2")
	[ "$(id -u)" = 0 ] && args+=(-u nobody)
	"$SINK" "${args[@]}" "127.0.0.1:$1" 1024 >/dev/null 2>&1 &
	SINK_PID=$!
	PIDS+=("$SINK_PID")
	wait_port "$1" || { echo "smtp-sink did not start" >&2; exit 1; }
}

SHM=$(mktemp -d /dev/shm/kairanfan.XXXXXX); TMPS+=("$SHM"); chmod 1777 "$SHM"
WORK=$(mktemp -d /tmp/kairanfan.XXXXXX); TMPS+=("$WORK")

make_post() {
	{
		echo "From: Poster <user00001@example.test>"
		echo "To: bench@lists.example.test"
		echo "Subject: fan-out benchmark post $1"
		echo "Message-ID: <bench-$1-$$@example.test>"
		echo "Date: $(date -R)"
		echo "MIME-Version: 1.0"
		echo "Content-Type: text/plain; charset=us-ascii"
		echo
		awk 'BEGIN{ line="The quick brown fox jumps over the lazy dog 0123456789 abcdefghij"; for(n=0;n<1024;n+=length(line)+1) print line }'
	} >"$WORK/post.eml"
}

# kairan N MODE: one instance, RUNS posts, a fresh sink and relay for each
bench_kairan() {
	local n=$1 mode=${2:-plain} home="$WORK/home-$1-${2:-plain}" times=() rtimes=() rss_max=0 i port rport dump pid t0 t1 got rss qid tq
	local ndom=1
	case $mode in *@*) ndom=${mode##*@}; mode=${mode%@*} ;; esac
	"$KAIRAN" --home "$home" init --domain lists.example.test >/dev/null || exit 1
	"$KAIRAN" --home "$home" newlist bench --owner owner@example.test >/dev/null || exit 1
	"$KAIRAN" --home "$home" config bench post_policy anyone >/dev/null
	"$KAIRAN" --home "$home" config bench send_to_author yes >/dev/null 2>&1
	case $mode in personal*)
		"$KAIRAN" --home "$home" config bench personalize yes >/dev/null || exit 1
		sed -i "s|^web_url=.*|web_url=https://lists.example.test/|" "$home/kairan.conf" ;;
	esac
	case $mode in *+ed25519|*+rsa)
		"$KAIRAN" --home "$home" dkim-keygen lists.example.test --selector b --type "${mode#*+}" --enable >/dev/null || exit 1 ;;
	esac
	python3 - "$home/kairan.db" "$n" "$ndom" <<'PY'
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1]); n = int(sys.argv[2]); d = int(sys.argv[3]); w = max(4, len(str(n)))
dom = (lambda i: "example.test") if d == 1 else (lambda i: f"d{i % d}.example.test")
with db:
    db.executemany("INSERT INTO members(list, address, since) VALUES('bench', ?, ?)",
                   [(f"user{i:0{w}d}@{dom(i)}", int(time.time())) for i in range(1, n + 1)])
PY
	for i in $(seq 1 "$RUNS"); do
		port=$(free_port); rport=$(free_port); dump="$SHM/kairan.$n.$i"
		start_sink "$port" "$dump"
		if [ "$ndom" = 1 ]; then
			sed -i "s|^routes=.*|routes=example.test=[127.0.0.1]:$port|" "$home/kairan.conf"
		else
			routes=$(awk -v d="$ndom" -v p="$port" 'BEGIN{ for(k=0;k<d;k++) printf "%sd%d.example.test=[127.0.0.1]:%d", (k?";":""), k, p }')
			sed -i "s|^routes=.*|routes=example.test=[127.0.0.1]:$port;$routes|" "$home/kairan.conf"
		fi
		"$KAIRAN" --home "$home" relay --listen "127.0.0.1:$rport" 2>>"$WORK/relay.err" &
		pid=$!; PIDS+=("$pid")
		wait_port "$rport" || { echo "relay did not start" >&2; cat "$WORK/relay.err" >&2; exit 1; }
		make_post "$n-$i"
		t0=$(now)
		"$KAIRAN" --home "$home" deliver bench -f user00001@example.test <"$WORK/post.eml" || { echo "deliver failed" >&2; exit 1; }
		got=0
		for _ in $(seq 1 60000); do
			got=$(count_rcpts "$dump"); [ "$got" -ge "$n" ] && break; sleep 0.002
		done
		# the sink's last append to its dump is the end (no polling delay)
		t1=$(stat -c %.9Y "$dump")
		# the queue ID is the commit time in microseconds (13 hex digits)
		qid=$(sed -n 's/.*: \([0-9A-F]\{19\}\): queued from=<bench-admin@.*/\1/p' "$home/log/kairan.log" | tail -1)
		tq=$(printf '%d' "0x${qid:0:13}"); tq=$(awk -v u="$tq" 'BEGIN{ printf "%.6f", u / 1e6 }')
		rtimes+=("$(awk -v a="$t1" -v b="$tq" 'BEGIN{printf "%.6f", a-b}')")
		rss=$(awk '/VmHWM/{print $2}' "/proc/$pid/status")
		[ "$rss" -gt "$rss_max" ] && rss_max=$rss
		stop_pid "$pid"; stop_pid "$SINK_PID"; rm -f "$dump"
		[ "$got" -ge "$n" ] || { echo "ERROR: sink saw $got/$n" >&2; exit 1; }
		times+=("$(awk -v a="$t1" -v b="$t0" 'BEGIN{printf "%.6f", a-b}')")
		rm -rf "$home/queue/msg" "$home/queue/env" "$home/queue/state"
	done
	local med rmed; med=$(median "${times[@]}"); rmed=$(median "${rtimes[@]}")
	[ "$ndom" = 1 ] || mode="$mode@$ndom"
	printf 'RESULT\tkairan-fanout\t%s\tN=%d\tmedian_s=%.4f\trcpts_per_s=%s\trelay_only_s=%.4f\trelay_only_rcpts_per_s=%s\tpeak_rss_kb=%d\truns_s=%s\n' \
		"$mode" "$n" "$med" "$(fdiv "$n" "$med")" "$rmed" "$(fdiv "$n" "$rmed")" "$rss_max" "$(IFS=,; echo "${times[*]}")"
}

# smtp-source: N recipients in transactions of up to 1000
bench_source() {
	local n=$1 times=() i port dump t0 t1 per msgs sess
	per=$(( n < 1000 ? n : 1000 )); msgs=$(( n / per )); sess=$(( msgs > 1 ? 2 : 1 ))
	for i in $(seq 1 "$RUNS"); do
		port=$(free_port); dump="$SHM/source.$n.$i"
		start_sink "$port" "$dump"
		t0=$(now)
		"$SOURCE" -M bench.test -f sender@example.test -t rcpt@example.test -l 1024 -s "$sess" -m "$msgs" -r "$per" -d "127.0.0.1:$port" >/dev/null 2>&1
		for _ in $(seq 1 5000); do [ "$(count_rcpts "$dump")" -ge "$n" ] && break; sleep 0.002; done
		t1=$(stat -c %.9Y "$dump")
		stop_pid "$SINK_PID"; rm -f "$dump"
		times+=("$(awk -v a="$t1" -v b="$t0" 'BEGIN{printf "%.6f", a-b}')")
	done
	local med; med=$(median "${times[@]}")
	printf 'RESULT\tsmtp-source\tN=%d\t%dx%d rcpt, %d session(s)\tmedian_s=%.4f\trcpts_per_s=%s\n' \
		"$n" "$msgs" "$per" "$sess" "$med" "$(fdiv "$n" "$med")"
}

# Postfix N D: one message with N recipients over D domains through a
# private Postfix (relayhost = the sink), RUNS times, fresh sink each run
bench_postfix() {
	local n=$1 d=$2 times=() i T pport port dump t0 t1 got
	[ "$(id -u)" = 0 ] && [ -x /usr/sbin/postfix ] || { echo "# postfix case skipped (needs root and postfix)"; return; }
	for i in $(seq 1 "$RUNS"); do
		T=$(mktemp -d /tmp/kairanfan-pf.XXXXXX); TMPS+=("$T"); chmod 755 "$T"
		mkdir "$T/conf" "$T/queue" "$T/data"; chown postfix "$T/data"
		pport=$(free_port); port=$(free_port); dump="$SHM/postfix.$n.$d.$i"
		start_sink "$port" "$dump"
		sed -E "s|^smtp +inet .*|127.0.0.1:$pport inet n - n - - smtpd|" /etc/postfix/master.cf >"$T/conf/master.cf"
		cat >"$T/conf/main.cf" <<-EOF
		compatibility_level = 3.6
		queue_directory = $T/queue
		data_directory = $T/data
		myhostname = pf.bench.test
		mydestination =
		inet_interfaces = 127.0.0.1
		inet_protocols = ipv4
		mynetworks = 127.0.0.0/8
		relayhost = [127.0.0.1]:$port
		maillog_file = $T/maillog
		maillog_file_prefixes = /var, $T
		syslog_name = postfix-bench
		alias_maps =
		local_recipient_maps =
		smtputf8_enable = no
		smtpd_recipient_limit = 100000
		EOF
		postfix -c "$T/conf" set-permissions >/dev/null 2>&1
		postfix -c "$T/conf" start >/dev/null 2>&1 || { echo "postfix did not start" >&2; return; }
		wait_port "$pport" || { echo "postfix did not listen" >&2; return; }
		make_post "pf-$n-$i"
		t0=$(now)
		python3 - "$pport" "$n" "$d" "$WORK/post.eml" <<'PY' || { echo "injection failed" >&2; postfix -c "$T/conf" stop >/dev/null 2>&1; return; }
import smtplib, sys
port, n, d = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
w = max(4, len(str(n)))
dom = (lambda i: "example.test") if d == 1 else (lambda i: f"d{i % d}.example.test")
s = smtplib.SMTP("127.0.0.1", port, timeout=120)
refused = s.sendmail("bench-admin@lists.example.test", [f"user{i:0{w}d}@{dom(i)}" for i in range(1, n + 1)],
                     open(sys.argv[4], "rb").read())
s.quit()
sys.exit(1 if refused else 0)
PY
		got=0
		for _ in $(seq 1 60000); do got=$(count_rcpts "$dump"); [ "$got" -ge "$n" ] && break; sleep 0.005; done
		t1=$(stat -c %.9Y "$dump")
		postfix -c "$T/conf" stop >/dev/null 2>&1
		stop_pid "$SINK_PID"; rm -f "$dump"
		[ "$got" -ge "$n" ] || { echo "ERROR: postfix sink saw $got/$n" >&2; return; }
		times+=("$(awk -v a="$t1" -v b="$t0" 'BEGIN{printf "%.6f", a-b}')")
	done
	local med; med=$(median "${times[@]}")
	printf 'RESULT\tpostfix-fanout\tN=%d\tdomains=%d\tmedian_s=%.4f\trcpts_per_s=%s\truns_s=%s\n' \
		"$n" "$d" "$med" "$(fdiv "$n" "$med")" "$(IFS=,; echo "${times[*]}")"
}

echo "# kairan $("$KAIRAN" --version | awk '{print $2}') fan-out, median of $RUNS, sink dumps to tmpfs"
for n in "${NS[@]}"; do
	for mode in $MODES; do bench_kairan "$n" "$mode"; done
	for d in $POSTFIX_DOMAINS; do bench_postfix "$n" "$d"; done
	[ "$SOURCE_CASE" = 1 ] && bench_source "$n"
	if [ "$MLMMJ" = 1 ] && [ -x "$MLMMJ_BENCH" ]; then
		if [ "$n" -le 1000 ]; then
			PORT=$(free_port) RUNS=1 "$MLMMJ_BENCH" "$n" default | grep RESULT
			PORT=$(free_port) RUNS="$RUNS" "$MLMMJ_BENCH" "$n" verp:1000 | grep RESULT
		else
			PORT=$(free_port) RUNS="$RUNS" "$MLMMJ_BENCH" "$n" verp:1000 | grep RESULT
		fi
	fi
done
