#!/bin/sh
# demo-pop3.sh K H - the POP3 part of DEMO.sh: alice sets her POP3
# password, `kairan pop3d` serves the demo list's archive on a loopback
# port, and curl (a real POP3 client) lists and fetches it.
set -eu
K=$1
H=$2
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
PID=""
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null || true' EXIT INT TERM

say "alice sets her POP3 password: kairan passwd demo alice@example.org"
printf 'alice-pop-pw\n' | "$K" --home "$H" passwd demo alice@example.org
say "kairan pop3d on 127.0.0.1:$PORT; user alice@example.org/demo"
"$K" --home "$H" pop3d --listen "127.0.0.1:$PORT" &
PID=$!
sleep 0.5
echo "-- LIST (curl pop3://)"
curl -s -u 'alice@example.org/demo:alice-pop-pw' "pop3://127.0.0.1:$PORT/"
echo "-- RETR 1"
curl -s -u 'alice@example.org/demo:alice-pop-pw' "pop3://127.0.0.1:$PORT/1" | sed -n '1,12p'
echo "..."
