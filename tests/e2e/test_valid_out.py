"""test_valid_out.py - what kairan sends is valid mail whatever came in and
whatever the locale: a header field with an invalid name (8-bit octets) is
dropped before kairan adds its own headers, so a strict reader still finds
them in the header; the relay's Received: date is RFC 5322 (English day and
month names) even when the relay runs under a Japanese locale."""
import email
import email.errors
import email.policy
import os
import re
import smtplib
import subprocess
import tempfile

from kt import *

t = Tap()
inst = Instance()
inst.newlist("team")
inst.subscribe("team", "member@example.org", "other@example.org")

# 1. an 8-bit field name in the header block
raw = make_msg(subject="bad field name", extra="X-Bxd: value\nX-Good: kept\n").replace(b"X-Bxd", b"X-B\xe4d")
r = inst.deliver("team", raw)
t.eq(r.returncode, 0, "a post with an 8-bit header field name is accepted")
arch = open(inst.path("spool", "team", "archive", "1"), "rb").read()
head = arch.split(b"\n\n", 1)[0]
t.ok(b"X-B\xe4d" not in head, "the field with the invalid name is not distributed", head)
t.ok(b"X-Good: kept" in head, "the valid fields around it are kept", head)
names = [line.split(b":", 1)[0] for line in head.split(b"\n") if line and line[:1] not in b" \t"]
t.ok(all(n and all(33 <= c <= 126 for c in n) for n in names), "every field name in the post is printable ASCII", names)
try:
    m = email.message_from_bytes(arch, policy=email.policy.strict)
    found = m["X-ML-Name"] == "team" and m["List-Id"] is not None
    why = head
except (email.errors.MessageError, email.errors.MessageDefect) as e:
    found, why = False, repr(e)
t.ok(found, "a strict parser finds kairan's headers in the header", why)
log = open(inst.path("log", "kairan.log"), encoding="utf-8", errors="replace").read()
t.ok("invalid name" in log, "the drop is logged")

# 2. Received: under a Japanese locale
loc = tempfile.mkdtemp(prefix="kairan-locale-")
made = subprocess.run(["localedef", "-i", "ja_JP", "-f", "UTF-8", os.path.join(loc, "ja_JP.UTF-8")],
                      capture_output=True)
if made.returncode not in (0, 1) or not os.path.isdir(os.path.join(loc, "ja_JP.UTF-8")):
    t.skip("Received: date under ja_JP", "localedef could not build ja_JP.UTF-8")
else:
    saved = {k: os.environ.get(k) for k in ("LOCPATH", "LC_ALL", "LANG", "LSAN_OPTIONS")}
    os.environ.update(LOCPATH=loc, LC_ALL="ja_JP.UTF-8", LANG="ja_JP.UTF-8")
    # glibc's setlocale() leaks 36 bytes (__argz_add_sep) for a locale found
    # through LOCPATH; under the sanitizer build that is not kairan's leak
    supp = os.path.join(loc, "lsan.supp")
    open(supp, "w").write("leak:__argz_add_sep\nleak:_nl_find_locale\n")
    os.environ["LSAN_OPTIONS"] = f"suppressions={supp}" + (":" + saved["LSAN_OPTIONS"] if saved["LSAN_OPTIONS"] else "")
    check = subprocess.run(["date", "+%a %b"], capture_output=True)
    relay = Relay(inst)
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    try:
        t.ok(not re.match(rb"^[A-Z][a-z]{2} [A-Z][a-z]{2}$", check.stdout.strip()),
             "the locale really names days in Japanese here", check.stdout)
        s = smtplib.SMTP("127.0.0.1", relay.port, timeout=30)
        s.sendmail("member@example.org", [f"team@{DOMAIN}"], make_msg(subject="under ja_JP"))
        s.quit()
        path = inst.path("spool", "team", "archive", "2")
        t.ok(wait_for(lambda: os.path.exists(path)), "the post sent to the relay is archived")
        post = email.message_from_bytes(open(path, "rb").read(), policy=email.policy.default) if os.path.exists(path) else None
        received = [str(v) for v in post.get_all("Received", [])] if post else []
        date = received[0].rsplit(";", 1)[-1].strip() if received else ""
        t.ok(re.fullmatch(r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
                          r" \d{4} \d\d:\d\d:\d\d [+-]\d{4}", date) is not None,
             "the relay's Received: date is RFC 5322 under a Japanese locale", received)
        t.ok(all(ord(c) < 128 for c in "".join(received)), "the Received: field is ASCII", received)
    finally:
        relay.stop()
t.done()
