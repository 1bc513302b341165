#!/bin/sh
# demo-relay.sh K H - the relay part of DEMO.sh: `kairan relay` as the only
# MTA.  A post sent by SMTP (swaks) to the list address reaches every demo
# member in a catch-all smtp-sink on loopback, the fan-out queued earlier
# by the demo goes out too, and `kairan queue` ends empty.  Stops exactly
# the processes it started.
set -eu
K=$1
H=$2
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
SINK=/usr/sbin/smtp-sink
if [ ! -x "$SINK" ] || ! command -v swaks >/dev/null; then
    echo "(relay demo skipped: needs smtp-sink from postfix and swaks)"
    exit 0
fi
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
SPORT=$(port)
RPORT=$(port)
DUMP=$(mktemp -d /tmp/kairan-demo-sink.XXXXXX)
chmod 1777 "$DUMP"
SINK_PID=""
RELAY_PID=""
cleanup() {
    [ -n "$RELAY_PID" ] && kill "$RELAY_PID" 2>/dev/null && { wait "$RELAY_PID" 2>/dev/null || true; }
    [ -n "$SINK_PID" ] && kill "$SINK_PID" 2>/dev/null && { wait "$SINK_PID" 2>/dev/null || true; }
    rm -rf "$DUMP"
    true
}
trap cleanup EXIT INT TERM

say "kairan relay: the members' domains go to a catch-all smtp-sink on 127.0.0.1:$SPORT"
sed -i "s|^routes=.*|routes=example.org=[127.0.0.1]:$SPORT;example.net=[127.0.0.1]:$SPORT|" "$H/kairan.conf"
sed -i "s|^relay_listen=.*|relay_listen=127.0.0.1:$RPORT|" "$H/kairan.conf"
grep -E '^(relay_listen|routes)=' "$H/kairan.conf"
if [ "$(id -u)" = 0 ]; then U="-u nobody"; else U=""; fi
# shellcheck disable=SC2086
"$SINK" $U -d "$DUMP/%M." "127.0.0.1:$SPORT" 100 &
SINK_PID=$!
"$K" --home "$H" relay &
RELAY_PID=$!
sleep 1

say "alice posts by SMTP to demo@lists.example.test (swaks)"
swaks --server "127.0.0.1:$RPORT" --from alice@example.org --to demo@lists.example.test \
    --header "Subject: Hello by SMTP" --body "This post came in through kairan relay." --hide-informational
sleep 1
say "What the members' mail server (smtp-sink) received: one envelope line per recipient"
grep -h '^X-Rcpt-Args' "$DUMP"/* | sort | uniq -c
say "The relay's log (Postfix style)"
grep -E 'status=|smtpd:' "$H/log/kairan.log" | tail -8
say "kairan queue"
"$K" --home "$H" queue
