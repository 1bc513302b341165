#!/bin/sh
# DEMO.sh - the README's first quick-start command: install the Debian
# packages (as root), build kairan in build/, and run a demo of the whole
# system on a fresh instance in spool/demo.
set -eu
cd "$(dirname "$0")"
top=$(pwd)
./bootstrap
mkdir -p build
(cd build && ../configure -q && make -j2 >/dev/null)
K="$top/build/kairan"
export KAIRAN_TEMPLATES="$top/templates"
H="$top/spool/demo"
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "A fresh instance in $H"
rm -rf "$H"
"$K" --home "$H" init --domain lists.example.test
printf 'demo-owner-pw\n' > "$H/.owner-password"
say "kairan newlist demo (prints its alias lines; kairan writes them to $H/aliases, the map Postfix reads)"
"$K" --home "$H" newlist demo --owner owner@example.org --password-file "$H/.owner-password"
for m in alice@example.org bob@example.org carol@example.net; do
    "$K" --home "$H" subscribe demo "$m"
done
"$K" --home "$H" members demo

say "A member posts (kairan deliver demo, as the MTA's pipe would run it)"
"$K" --home "$H" deliver demo -f alice@example.org <<'MAIL'
From: Alice <alice@example.org>
To: demo@lists.example.test
Subject: Hello, list
Message-ID: <demo-1@example.org>

This is the first post to the demo list.
MAIL
echo "exit status $?"
say "The archive: $H/spool/demo/archive/1, exactly as distributed"
cat "$H/spool/demo/archive/1"
say "The queued fan-out (kairan queue)"
"$K" --home "$H" queue

say "A stranger posts: refused, with one explanatory reply"
"$K" --home "$H" deliver demo -f mallory@example.com <<'MAIL'
From: mallory@example.com
To: demo@lists.example.test
Subject: buy now

spam
MAIL
grep -h "refused" "$H/log/kairan.log" | tail -1

say "Non-members are held when post_policy = members-hold"
"$K" --home "$H" config demo post_policy members-hold
"$K" --home "$H" deliver demo -f dave@example.com <<'MAIL'
From: Dave <dave@example.com>
To: demo@lists.example.test
Subject: a question from outside

May I ask something?
MAIL
"$K" --home "$H" held demo
id=$("$K" --home "$H" held demo | awk 'NR==1{print $1}')
say "The moderator approves it: kairan approve demo $id"
"$K" --home "$H" approve demo "$id"
"$K" --home "$H" lists --verbose

if [ -x "$top/tests/demo-services.sh" ]; then
    "$top/tests/demo-services.sh" "$K" "$H"
fi
say "Done.  The demo instance stays in $H (log: $H/log/kairan.log)"
cat <<EOF
Next steps:
  - Your own instance: kairan --home /var/lib/kairan init --domain YOUR.DOMAIN (as the kairan user),
    then newlist, and wire Postfix to HOME/aliases (README: "With Postfix").
  - Run the daemons: kairan relay, kairan pop3d, kairan web (etc/*.service are systemd units),
    and digests from cron or etc/kairan-digest.timer.
  - Settings: kairan config LIST (per list), kairan config --global (the instance).
  - Every test: ./tests/run-all
EOF
