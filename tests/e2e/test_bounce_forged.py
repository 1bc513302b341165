"""test_bounce_forged.py - security issue 12, finding 8 (forged bounces):
a bounce counts only when it matches mail kairan sent to the member (the
Message-ID of a post distributed to it, returned in message/rfc822 or
text/rfc822-headers, or the member's VERP address on a list that uses
VERP), and at most one bounce a day counts for a member.  Five forged
DSNs, or five null-sender mails to LIST-admin+bob=example.org@ on a list
without VERP, leave the member receiving the list."""
import os
import sqlite3
import time
from kt import *

t = Tap()
BOB, ALICE, CAROL = "bob@example.org", "alice@example.org", "carol@example.org"


def rows(inst):
    db = sqlite3.connect(inst.path("kairan.db"))
    r = {a: (s, n) for a, s, n in db.execute("SELECT address, bounce_score, nomail FROM members WHERE list='team'")}
    db.close()
    return r


def next_day(inst):
    db = sqlite3.connect(inst.path("kairan.db"))
    db.execute("UPDATE members SET bounce_last = bounce_last - 86400 WHERE bounce_last IS NOT NULL")
    db.commit()
    db.close()


def dsn(rcpt, returned, kind="message/rfc822", msgid=None):
    msgid = msgid or f"<dsn.{time.time_ns()}@mx.example.net>"
    return (f"""From: MAILER-DAEMON@mx.example.net (Mail Delivery System)
To: team-admin@{DOMAIN}
Subject: Undelivered Mail Returned to Sender
Message-ID: {msgid}
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="BB"

--BB
Content-Type: text/plain

Your message could not be delivered.

--BB
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net

Final-Recipient: rfc822; {rcpt}
Action: failed
Status: 5.1.1

--BB
Content-Type: {kind}

""").encode() + returned + b"\n--BB--\n"


def admin(inst, raw, rcpt=None):
    env = {"ORIGINAL_RECIPIENT": rcpt} if rcpt else None
    r = inst.run("deliver", "--admin", "team", "-f", "<>", stdin=raw, env=env)
    assert r.returncode == 0, r.stderr
    return r


def post(inst, subject):
    inst.clear_queue()
    r = inst.deliver("team", make_msg(subject=subject, frm=f"Alice <{ALICE}>"), sender=ALICE)
    assert r.returncode == 0, r.stderr
    return [q for q in inst.queue() if q["msg"].get("X-Kairan-Notice") is None]


def setup(**conf):
    inst = Instance()
    inst.newlist("team", owner="owner@example.org")
    inst.subscribe("team", BOB, ALICE)
    inst.config("team", "post_policy", "anyone")
    for k, v in conf.items():
        inst.run("config", "team", k, v)   # (a build without bounce_match refuses it: its checks fail)
    return inst


def head_of(inst, n):
    raw = open(inst.path("spool", "team", "archive", str(n)), "rb").read()
    return raw.split(b"\n\n", 1)[0] + b"\n"


# --- five forged DSNs naming bob: nothing kairan sent is returned --------------
inst = setup()
post(inst, "a real post")
fake = (b"From: bob@example.org\nTo: team@" + DOMAIN.encode() + b"\nSubject: a post\n"
        b"Message-ID: <made-up.1@example.org>\n\nhi\n")
for i in range(5):
    admin(inst, dsn(BOB, fake))
t.ok(rows(inst)[BOB] == (0, 0), "five forged DSNs (no Message-ID kairan sent): bob not scored, not disabled",
     rows(inst))
t.ok("names no post sent to it" in inst.log(), "the ignored bounce is logged")
t.ok(not notices(inst, "probe", BOB) and not notices(inst, "bounce_disabled"), "no probe, no owner notice")
q = post(inst, "after the forged bounces")
t.ok(q and BOB in q[0]["rcpts"], "bob still receives the list", q and q[0]["rcpts"])
# a DSN without any returned message does not count either
for i in range(5):
    admin(inst, dsn(BOB, b"", kind="text/plain"))
t.eq(rows(inst)[BOB], (0, 0), "five DSNs returning nothing: not scored")
# the bounce's own Message-ID is no returned header, even when it is a post's
real_id = [l for l in head_of(inst, 1).split(b"\n") if l.lower().startswith(b"message-id:")][0].split(b":", 1)[1]
admin(inst, dsn(BOB, b"", kind="text/plain", msgid=real_id.strip().decode()))
t.eq(rows(inst)[BOB], (0, 0), "a DSN whose own Message-ID is a post's: not scored")

# a real post, but distributed before carol was a member
inst.subscribe("team", CAROL)
old = inst.path("spool", "team", "archive", "1")
os.utime(old, (time.time() - 3600, time.time() - 3600))
admin(inst, dsn(CAROL, head_of(inst, 1)))
t.eq(rows(inst)[CAROL][0], 0, "a post sent before the member subscribed does not score for it")

# --- null-sender mails to LIST-admin+bob=example.org@ on a list without VERP --
verp = f"team-admin+bob=example.org@{DOMAIN}"
junk = (f"From: MAILER-DAEMON@elsewhere.example\nTo: {verp}\nSubject: Undeliverable\n"
        "Message-ID: <junk@elsewhere.example>\n\nSorry, something went wrong.\n").encode()
for i in range(5):
    admin(inst, junk, rcpt=verp)
t.eq(rows(inst)[BOB], (0, 0), "five null-sender mails to the +address form, personalize = no: no score")
t.ok("does not use VERP" in inst.log(), "the unused VERP form is logged")
q = post(inst, "after the VERP junk")
t.ok(q and BOB in q[0]["rcpts"], "bob still receives the list")

# --- genuine DSNs: they count, once a day ----------------------------------------
inst = setup()
q = post(inst, "post bob really got")
t.ok(q and BOB in q[0]["rcpts"], "the post was queued for bob")
returned = q[0]["raw"] if q else b""
for i in range(5):
    admin(inst, dsn(BOB, returned))
t.eq(rows(inst)[BOB], (1, 0), "five genuine DSNs on one day: score 1, still receiving")
t.ok("less than a day ago, not counted again" in inst.log(), "the repeats of the day are logged")
next_day(inst)
admin(inst, dsn(BOB, returned))
t.eq(rows(inst)[BOB][0], 2, "the next day the genuine DSN counts again")
# the headers alone (text/rfc822-headers, what kairan relay and Postfix return)
admin(inst, dsn(ALICE, head_of(inst, 1), kind="text/rfc822-headers"))
t.eq(rows(inst)[ALICE][0], 1, "a DSN returning only the header (text/rfc822-headers) counts")
# five days of genuine bounces disable as before (bounce_threshold 5)
for i in range(3):
    next_day(inst)
    admin(inst, dsn(BOB, returned))
t.ok(rows(inst)[BOB] == (5, 1) and len(notices(inst, "probe", BOB)) == 1,
     "genuine bounces on five days reach bounce_threshold: disabled, probe sent", rows(inst))

# --- VERP list: the VERP address is the match, once a day -----------------------
inst = setup(personalize="yes")
for i in range(5):
    admin(inst, junk, rcpt=verp)
t.eq(rows(inst)[BOB], (1, 0), "personalize = yes: mail to bob's VERP address scores, once a day")
t.eq(rows(inst)[ALICE][0], 0, "nobody else")

# --- bounce_match = any: the old behaviour, still one a day ------------------------
inst = setup(bounce_match="any")
for i in range(5):
    admin(inst, dsn(BOB, fake))
t.eq(rows(inst)[BOB], (1, 0), "bounce_match = any: an unmatched DSN counts, once a day")
t.done()
