#!/bin/sh
# tests/valgrind.sh - the C unit tests and a few `kairan deliver` runs
# (accepted, refused, held, approved, rejected, attachments stripped)
# under valgrind --leak-check=full --error-exitcode=1, one TAP line each.
# Memory errors or definite/possible leaks fail; tests/valgrind.supp
# holds the few suppressions for the dynamic loader and GLib/GMime.
# Skips when valgrind is missing or the build uses the sanitizers.
set -u
srcdir=${KAIRAN_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
builddir=${KAIRAN_BUILDDIR:-$srcdir}
kairan=${KAIRAN:-$builddir/kairan}
export KAIRAN_TEMPLATES=${KAIRAN_TEMPLATES:-$srcdir/templates}

if ! command -v valgrind >/dev/null 2>&1; then
    echo "1..0 # SKIP valgrind is not installed"
    exit 0
fi
if grep -q __asan_init "$kairan" 2>/dev/null; then
    echo "1..0 # SKIP the sanitizer build cannot run under valgrind"
    exit 0
fi

tmp=$(mktemp -d /tmp/kairan-valgrind.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
export G_SLICE=always-malloc G_DEBUG=gc-friendly
VG="valgrind -q --leak-check=full --error-exitcode=99 --track-fds=no --num-callers=30 --suppressions=$srcdir/tests/valgrind.supp"
n=0
failed=0

# vg NAME STDIN-FILE CMD... - run CMD under valgrind; ok unless valgrind
# reports (exit 99) or CMD itself fails.
vg() {
    name=$1 input=$2
    shift 2
    n=$((n + 1))
    # shellcheck disable=SC2086
    $VG --log-file="$tmp/vg.$n" "$@" <"$input" >"$tmp/out.$n" 2>&1
    rc=$?
    if [ $rc = 0 ] && [ ! -s "$tmp/vg.$n" ]; then
        echo "ok $n - valgrind: $name"
    else
        failed=1
        echo "not ok $n - valgrind: $name (exit $rc)"
        sed 's/^/#   /' "$tmp/vg.$n" | head -n 60
        tail -n 10 "$tmp/out.$n" | sed 's/^/#   /'
    fi
}

for t in "$builddir"/tests/unit/test_*; do
    [ -x "$t" ] && [ -f "$t" ] || continue
    case $t in *.o|*.c|*.log|*.trs) continue ;; esac
    vg "unit test $(basename "$t")" /dev/null "$t" --tap
done

home=$tmp/home
"$kairan" --home "$home" init --domain lists.example.test >/dev/null
"$kairan" --home "$home" newlist team --owner owner@example.org >/dev/null
"$kairan" --home "$home" subscribe team member@example.org >/dev/null
"$kairan" --home "$home" subscribe team b@example.org >/dev/null

mail() {  # mail FILE FROM SUBJECT [extra header lines]
    printf 'From: %s\nTo: team@lists.example.test\nSubject: %s\nMessage-ID: <%s.%s@example.org>\nMIME-Version: 1.0\n%sContent-Type: text/plain; charset=utf-8\n\nHello.\n' \
        "$2" "$3" "$$" "$(date +%s%N)" "${4:-}" >"$1"
}
mail "$tmp/accepted" "Member <member@example.org>" "Re: [team:00007] accepted"
vg "deliver: accepted post" "$tmp/accepted" "$kairan" --home "$home" deliver team -f member@example.org
mail "$tmp/refused" "stranger@example.net" "=?iso-2022-jp?B?GyRCRnxLXDhsGyhC?="
vg "deliver: refused post with a reply" "$tmp/refused" "$kairan" --home "$home" deliver team -f stranger@example.net
cat >"$tmp/multi" <<'MAIL'
From: member@example.org
Subject: with an attachment
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=b

--b
Content-Type: text/plain

text
--b
Content-Type: application/octet-stream; name=x.bin
Content-Transfer-Encoding: base64

AAECAwQ=
--b--
MAIL
"$kairan" --home "$home" config team attachments strip >/dev/null
vg "deliver: attachment stripped" "$tmp/multi" "$kairan" --home "$home" deliver team -f member@example.org
"$kairan" --home "$home" config team post_policy moderated >/dev/null
mail "$tmp/held1" "member@example.org" "held one"
mail "$tmp/held2" "member@example.org" "held two"
vg "deliver: held post" "$tmp/held1" "$kairan" --home "$home" deliver team -f member@example.org
"$kairan" --home "$home" deliver team -f member@example.org <"$tmp/held2" >/dev/null
ids=$("$kairan" --home "$home" held team | awk '/^[0-9a-f]+ / { print $1 }')
id1=$(echo "$ids" | sed -n 1p)
id2=$(echo "$ids" | sed -n 2p)
vg "approve a held post" /dev/null "$kairan" --home "$home" approve team "$id1"
vg "reject a held post" /dev/null "$kairan" --home "$home" reject team "$id2" --reason "off topic"
vg "approve an unknown ID (error path)" /dev/null sh -c "$VG --log-file=$tmp/vg.inner \"$kairan\" --home \"$home\" approve team ../../etc/passwd; test \$? = 67 && test ! -s $tmp/vg.inner"
echo "1..$n"
exit $failed
