"""test_relay_popbeforesmtp.py - POP-before-SMTP (pop_before_smtp):
the relay runs with a mynetworks that excludes the client (127.0.0.1),
so relaying is denied (550 5.7.1) until a successful login to the real
`kairan pop3d` (poplib) from that address; then the same client may
relay (the mail reaches smtp-sink) for the window, which is logged and
kept in SQLite; a failed or anonymous login opens nothing; the window
ends when it runs out and early on `kairan passwd`; off by default."""
import poplib
import smtplib
import sqlite3
import time

from kt import *

t = Tap()
if not which("smtp-sink"):
    t.skip_all("smtp-sink (postfix) not installed")

inst = Instance()
inst.newlist("team")
inst.subscribe("team", "ann@example.org")
inst.check("passwd", "team", "ann@example.org", stdin=b"ann-pass-1\n")
sink = Sink()
set_global(inst, mynetworks="10.0.0.0/8", routes=f"far.test=[127.0.0.1]:{sink.port}")


def try_relay(to="x@far.test"):
    s = smtplib.SMTP("127.0.0.1", relay.port, timeout=30)
    s.ehlo("client.example.org")
    s.docmd("MAIL FROM:<ann@example.org>")
    code, msg = s.docmd(f"RCPT TO:<{to}>")
    if code == 250:
        s.docmd("DATA")
        s.send(make_msg(subject=f"relayed to {to}").replace(b"\n", b"\r\n") + b".\r\n")
        s.getreply()
    s.quit()
    return code


def pop_login(user, password):
    p = poplib.POP3("127.0.0.1", pop.port, timeout=30)
    try:
        p.user(user)
        p.pass_(password)
        ok = True
    except poplib.error_proto:
        ok = False
    try:
        p.quit()
    except Exception:
        pass
    return ok


relay = pop = None
try:
    # 1. off by default: a login opens nothing
    relay = Relay(inst)
    pop = Pop3d(inst)
    t.ok(pop_login("ann@example.org/team", "ann-pass-1"), "POP3 login works")
    t.eq(try_relay(), 550, "pop_before_smtp off (default): relaying still denied after a login")
    relay.stop()
    pop.stop()

    # 2. on: denied before, allowed after a login, logged, kept in SQLite
    set_global(inst, pop_before_smtp="10m")
    relay.start()
    pop = Pop3d(inst)
    t.eq(try_relay(), 550, "before any login: 550 Relaying denied")
    t.ok(not pop_login("ann@example.org/team", "wrong-pass"), "a wrong password fails")
    t.eq(try_relay(), 550, "a failed login opens nothing")
    t.ok(pop_login("ann@example.org/team", "ann-pass-1"), "a good POP3 login")
    t.eq(try_relay("y@far.test"), 250, "after it the same IP may relay")
    t.ok(sink.wait_recipients(1, 10), "the relayed mail arrives", inst.log()[-800:])
    t.ok("pop-before-smtp: 127.0.0.1 may relay for 600s (login of ann@example.org at team)" in inst.log(),
         "the window is logged with who opened it", inst.log()[-800:])
    db = sqlite3.connect(inst.path("kairan.db"))
    rows = db.execute("SELECT ip, list, address, until FROM pop_before_smtp").fetchall()
    db.close()
    t.ok(len(rows) == 1 and rows[0][:3] == ("127.0.0.1", "team", "ann@example.org")
         and abs(rows[0][3] - (time.time() + 600)) < 30, "kept in SQLite with its end", rows)
    t.ok(relay.proc.poll() is None, "relay still running")

    # 3. kairan passwd ends it early
    inst.check("passwd", "team", "ann@example.org", stdin=b"ann-pass-2\n")
    t.eq(try_relay(), 550, "after kairan passwd for that member: denied again")
    t.ok("pop-before-smtp: 1 window ended by a password change at team" in inst.log(), "... and logged")

    # 4. the window runs out
    relay.stop()
    pop.stop()
    set_global(inst, pop_before_smtp="2")
    relay.start()
    pop = Pop3d(inst)
    t.ok(pop_login("ann@example.org/team", "ann-pass-2"), "login with the new password")
    t.eq(try_relay("z@far.test"), 250, "relaying allowed inside a 2 s window")
    time.sleep(2.5)
    t.eq(try_relay(), 550, "denied once the window has run out")
finally:
    if pop:
        pop.stop()
    if relay:
        relay.stop()
    sink.cleanup()
t.done()
