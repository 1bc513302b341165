#!/bin/sh
# demo-imap.sh K H - the IMAP part of DEMO.sh: alice sets her password,
# `kairan imapd` serves the demo list's archive as the folder INBOX on a
# loopback port, and curl (a real IMAP client) lists the folder, searches
# it, fetches post 1 and flags it; the flag is still there in a new session.
set -eu
K=$1
H=$2
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
PID=""
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null || true' EXIT INT TERM
U='alice@example.org/demo:alice-pop-pw'

say "alice sets her password (POP3 and IMAP): kairan passwd demo alice@example.org"
printf 'alice-pop-pw\n' | "$K" --home "$H" passwd demo alice@example.org
say "kairan imapd on 127.0.0.1:$PORT; user alice@example.org/demo, folder INBOX"
"$K" --home "$H" imapd --listen "127.0.0.1:$PORT" &
PID=$!
sleep 0.5
echo "-- LIST (curl imap://)"
curl -s -u "$U" "imap://127.0.0.1:$PORT/"
echo "-- EXAMINE INBOX"
curl -s -u "$U" "imap://127.0.0.1:$PORT/" -X 'EXAMINE INBOX'
echo "-- UID SEARCH ALL"
curl -s -u "$U" "imap://127.0.0.1:$PORT/INBOX" -X 'UID SEARCH ALL'
echo "-- UID FETCH 1 BODY.PEEK[] (INBOX;UID=1)"
curl -s -u "$U" "imap://127.0.0.1:$PORT/INBOX;UID=1" | sed -n '1,12p'
echo "..."
echo "-- UID STORE 1 +FLAGS (\\Flagged), then FLAGS in a new session"
curl -s -u "$U" "imap://127.0.0.1:$PORT/INBOX" -X 'UID STORE 1 +FLAGS (\Flagged)' >/dev/null
curl -s -u "$U" "imap://127.0.0.1:$PORT/INBOX" -X 'UID FETCH 1 FLAGS'
