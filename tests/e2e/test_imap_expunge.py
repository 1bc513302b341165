#!/usr/bin/env python3
"""test_imap_expunge.py - IMAP sessions hear of posts that leave the
archive (issue #17 archive expiry meets IMAP), with Python's imaplib
against a real `kairan imapd`: posts expired by `kairan maintain` (under
KAIRAN_TEST_NOW_OFFSET) while sessions have INBOX selected are announced
with * N EXPUNGE, highest number first, at NOOP, before UID FETCH's data
and within 2 s in IDLE, never between commands nor during FETCH/SEARCH;
the sequence numbers are renumbered (FETCH by number gives the right
posts), UIDs and UIDVALIDITY stay, EXISTS counts right; a FETCH or STORE
of a message that left before it was announced is answered NO
[EXPUNGEISSUED] with the other messages' data; a member's EXPUNGE in one
session reaches the member's other sessions (not another member's); a
removed list (kairan rmlist) ends the sessions with * BYE."""
import imaplib
import re
import select
import time

from kt import Tap, Instance, Imapd, make_msg, DOMAIN

DAY = 86400
t = Tap()
inst = Instance()
inst.newlist("exp", owner="owner@example.org", password="ownerpass")
inst.subscribe("exp", "ann@example.org", "bob@example.org")
inst.config("exp", "post_policy", "anyone")
inst.check("passwd", "exp", "ann@example.org", stdin=b"ann pass\n")
inst.check("passwd", "exp", "bob@example.org", stdin=b"bob pass\n")
ANN, BOB = ("ann@example.org/exp", "ann pass"), ("bob@example.org/exp", "bob pass")


def eq(got, want, name, detail=None):
    return t.ok(got == want, name, f"got {got!r}, want {want!r}" + (f"\n{detail!r}" if detail else ""))


def at(days):
    return {"KAIRAN_TEST_NOW_OFFSET": str(int(days * DAY))}


def post(n, days):
    """post n, archived `days` days from now"""
    r = inst.run("deliver", "exp", "-f", "ann@example.org", env=at(days),
                 stdin=make_msg(subject=f"post {n}", to=f"exp@{DOMAIN}", body=f"body {n}\n",
                                msgid=f"<e{n}@example.org>"))
    assert r.returncode == 0, r.stderr


def maintain(days):
    r = inst.run("maintain", "--list", "exp", "--task", "archive_expire", "--now", env=at(days))
    assert r.returncode == 0, r.stderr
    return r.stdout.decode()


# posts 2 and 4 are archived now, 1 and 3 in 20 days, 5 and 6 in 50 days:
# with archive_expire = 30d, 40 days on 2 and 4 go, 60 days on 1 and 3
for n, days in ((1, 20), (2, 0), (3, 20), (4, 0), (5, 50), (6, 50)):
    post(n, days)
inst.config("exp", "archive_expire", "30d")
eq(inst.archive_numbers("exp"), [1, 2, 3, 4, 5, 6], "six posts archived")


def session(who, readonly=False):
    c = imaplib.IMAP4("127.0.0.1", d.port)
    c.login(*who)
    typ, data = c.select("INBOX", readonly=readonly)
    assert typ == "OK", data
    return c


def raw(c, text):
    """send a command, read its lines (no literals expected) up to its tagged answer"""
    tag = c._new_tag().decode()
    c.send(f"{tag} {text}\r\n".encode())
    lines = []
    while True:
        line = c.readline()
        if not line:
            lines.append(b"<closed>")
            return lines
        lines.append(line.rstrip(b"\r\n"))
        if line.startswith(tag.encode() + b" "):
            return lines


def subjects(c, spec):
    typ, data = c.fetch(spec, "(UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    out = []
    for x in data:
        if isinstance(x, tuple):
            uid = int(re.search(rb"UID (\d+)", x[0]).group(1))
            subj = re.search(rb"Subject: (?:\[exp:\d+\] )?(.*?)\r\n", x[1]).group(1).decode()
            out.append((uid, subj))
    return typ, out


def pending(c, wait=0.5):
    """bytes the server sent without being asked"""
    return bool(select.select([c.sock], [], [], wait)[0])


with Imapd(inst, imap_login_delay="0.05") as d:
    a = session(ANN)
    uidvalidity = a.response("UIDVALIDITY")[1][0]
    b = session(BOB)
    c = session(ANN, readonly=True)
    eq(a.response("EXISTS")[1][-1], b"6", "SELECT: 6 EXISTS")

    # ---- round 1: posts 2 and 4 expire, post 7 comes ---------------------
    out = maintain(40)
    t.ok("removed 2 archived post(s)" in out, "kairan maintain 40 days on expires 2 posts", out)
    post(7, 50)
    eq(inst.archive_numbers("exp"), [1, 3, 5, 6, 7], "posts 2 and 4 gone from the spool, 7 there")
    t.ok(not pending(a), "nothing is sent between commands (no EXPUNGE outside a command)")

    lines = raw(a, "NOOP")
    eq(lines[:-1], [b"* 4 EXPUNGE", b"* 2 EXPUNGE", b"* 5 EXISTS"],
         "NOOP: * 4 EXPUNGE, * 2 EXPUNGE (highest first), then * 5 EXISTS for post 7", lines)
    t.ok(lines[-1].endswith(b"OK NOOP completed"), "NOOP completes OK", lines[-1])
    typ, got = subjects(a, "1:5")
    eq(got, [(1, "post 1"), (3, "post 3"), (5, "post 5"), (6, "post 6"), (7, "post 7")],
         "FETCH 1:5 by sequence number after renumbering: posts 1, 3, 5, 6, 7 with their UIDs")
    typ, got = subjects(a, "2")
    eq(got, [(3, "post 3")], "FETCH 2 is post 3 now (it was message 3)")
    st = a.status("INBOX", "(MESSAGES UIDNEXT UIDVALIDITY)")[1][0].decode()
    t.ok("MESSAGES 5" in st and "UIDNEXT 8" in st and f"UIDVALIDITY {uidvalidity.decode()}" in st,
         "STATUS: 5 messages, UIDNEXT 8, UIDVALIDITY unchanged", st)
    lines = raw(a, "NOOP")
    eq(len(lines), 1, "a second NOOP has nothing more to tell", lines)

    # bob, first command FETCH: no EXPUNGE during FETCH; the gone ones get NO
    lines = raw(b, "FETCH 1:* (UID)")
    t.ok(not any(x.endswith(b"EXPUNGE") for x in lines), "no EXPUNGE during FETCH", lines)
    t.ok(b"* 7 EXISTS" in lines, "FETCH: * 7 EXISTS (post 7; the expired ones still numbered)", lines)
    fetched = [x for x in lines if x.startswith(b"* ") and b" FETCH " in x]
    eq(fetched, [b"* 1 FETCH (UID 1)", b"* 3 FETCH (UID 3)", b"* 5 FETCH (UID 5)",
                   b"* 6 FETCH (UID 6)", b"* 7 FETCH (UID 7)"],
         "FETCH 1:* answers the messages still there, in the old numbering", lines)
    t.ok(re.search(rb" NO \[EXPUNGEISSUED\]", lines[-1]),
         "FETCH including expired messages ends NO [EXPUNGEISSUED]", lines[-1])
    lines = raw(b, "FETCH 2 (FLAGS)")
    t.ok(len(lines) == 1 and b"NO [EXPUNGEISSUED]" in lines[0], "FETCH of just a gone message: NO, no data", lines)
    lines = raw(b, "STORE 2:3 +FLAGS (\\Flagged)")
    t.ok(lines[-1].split()[1:3] == [b"NO", b"[EXPUNGEISSUED]"] and b"* 3 FETCH (FLAGS (\\Flagged))" in lines,
         "STORE 2:3 stores message 3's flag, answers NO [EXPUNGEISSUED] for message 2", lines)
    lines = raw(b, "SEARCH ALL")
    eq(lines[0], b"* SEARCH 1 3 5 6 7", "SEARCH ALL (before the EXPUNGEs) leaves the gone messages out")
    lines = raw(b, "NOOP")
    eq(lines[:-1], [b"* 4 EXPUNGE", b"* 2 EXPUNGE"], "NOOP then announces them", lines)
    lines = raw(b, "SEARCH ALL")
    eq(lines[0], b"* SEARCH 1 2 3 4 5", "SEARCH ALL after the EXPUNGEs: 1..5")
    lines = raw(b, "FETCH 2 (UID FLAGS)")
    eq(lines[0], b"* 2 FETCH (UID 3 FLAGS (\\Flagged))", "message 2 is UID 3 with the flag STORE set", lines)

    # the EXAMINE session, first command UID FETCH: EXPUNGEs come first
    lines = raw(c, "UID FETCH 1:* (FLAGS)")
    eq(lines[:2], [b"* 4 EXPUNGE", b"* 2 EXPUNGE"], "UID FETCH (read-only session): the EXPUNGEs first", lines)
    eq([x for x in lines if x.startswith(b"* ") and b" FETCH " in x],
         [b"* 1 FETCH (UID 1 FLAGS ())", b"* 2 FETCH (UID 3 FLAGS ())", b"* 3 FETCH (UID 5 FLAGS ())",
          b"* 4 FETCH (UID 6 FLAGS ())", b"* 5 FETCH (UID 7 FLAGS ())"],
         "then the data with the new numbers (post 7 included)", lines)
    t.ok(lines[-1].endswith(b"OK UID FETCH completed"), "UID FETCH completes OK", lines[-1])

    # ---- round 2: ann's own EXPUNGE in one session reaches her other one --
    a.store("1", "+FLAGS", "(\\Deleted)")
    typ, data = a.expunge()
    eq((typ, data), ("OK", [b"1"]), "ann EXPUNGEs message 1 (post 1) in her read-write session")
    lines = raw(c, "CHECK")
    eq(lines[:-1], [b"* 1 EXPUNGE"], "her other session hears * 1 EXPUNGE at CHECK", lines)
    lines = raw(b, "NOOP")
    eq(len(lines), 1, "bob's session hears nothing: post 1 is still his", lines)
    typ, got = subjects(c, "1")
    eq(got, [(3, "post 3")], "ann's message 1 is post 3 now")

    # ---- round 3: IDLE hears of an expiry within 2 s ---------------------
    tag = b._new_tag().decode()
    b.send(f"{tag} IDLE\r\n".encode())
    t.ok(b.readline().startswith(b"+"), "IDLE accepted")
    out = maintain(60)
    done = time.time()
    t.ok("removed 2 archived post(s)" in out, "kairan maintain 60 days on expires posts 1 and 3", out)
    b.sock.settimeout(5)
    got = [b.readline().rstrip(b"\r\n"), b.readline().rstrip(b"\r\n")]
    seen = time.time()
    t.ok(got == [b"* 2 EXPUNGE", b"* 1 EXPUNGE"] and seen - done < 2.0,
         f"IDLE: * 2 EXPUNGE, * 1 EXPUNGE {seen - done:.2f} s after the expiry", got)
    b.send(b"DONE\r\n")
    t.ok(b.readline().startswith(tag.encode() + b" OK"), "DONE ends IDLE")
    b.sock.settimeout(None)
    typ, got = subjects(b, "1:*")
    eq(got, [(5, "post 5"), (6, "post 6"), (7, "post 7")], "bob: FETCH 1:* gives posts 5, 6, 7")
    lines = raw(a, "NOOP")
    eq(lines[:-1], [b"* 1 EXPUNGE"], "ann (who had expunged post 1 herself) hears * 1 EXPUNGE (post 3)", lines)

    # ---- round 4: the list is removed --------------------------------------
    tag = a._new_tag().decode()
    a.send(f"{tag} IDLE\r\n".encode())
    t.ok(a.readline().startswith(b"+"), "IDLE accepted")
    r = inst.run("rmlist", "exp")
    done = time.time()
    eq(r.returncode, 0, "kairan rmlist exp exits 0", r.stderr)
    a.sock.settimeout(5)
    line = a.readline()
    seen = time.time()
    t.ok(line.startswith(b"* BYE") and b"removed" in line and seen - done < 2.0,
         f"the idling session gets * BYE {seen - done:.2f} s after rmlist", line)
    eq(a.readline(), b"", "and is closed")
    lines = raw(c, "NOOP")
    t.ok(lines[0].startswith(b"* BYE") and lines[-1] == b"<closed>",
         "the other session gets * BYE at its next command and is closed", lines)
    try:
        b.logout()
    except imaplib.IMAP4.abort:
        pass
    log = d.output()
    t.ok("Sanitizer" not in log and "runtime error" not in log, "imapd ran clean", log[-2000:])

t.done()
