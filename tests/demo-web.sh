#!/bin/sh
# demo-web.sh K H - the web part of DEMO.sh: sets the demo admin password,
# starts `kairan web` (127.0.0.1:8080, or a free port if that is taken),
# shows that the archive page answers, and leaves the server running with
# the URL and the logins printed.
set -eu
K=$1
H=$2
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
PORT=8080
if ! python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",8080))' 2>/dev/null; then
    PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
fi
URL="http://127.0.0.1:$PORT/"
sed -i "s|^web_url=.*|web_url=$URL|" "$H/kairan.conf"
printf 'demo-admin-pw\n' | "$K" --home "$H" web --set-admin-password >/dev/null
say "kairan web on $URL"
"$K" --home "$H" web --listen "127.0.0.1:$PORT" </dev/null >"$H/log/web.out" 2>&1 &
PID=$!
sleep 0.5
echo "-- GET ${URL}login: HTTP $(curl -s -o /dev/null -w '%{http_code}' "${URL}login")"
echo "-- GET ${URL}list/demo/subscribe: HTTP $(curl -s -o /dev/null -w '%{http_code}' "${URL}list/demo/subscribe")"
cat <<MSG

  kairan web is running: $URL  (pid $PID; stop it with: kill $PID)
  owner login:  list demo, address owner@example.org, password demo-owner-pw
  admin login:  any address, password demo-admin-pw (all lists)
MSG
