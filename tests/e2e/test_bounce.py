"""test_bounce.py - LIST-admin: bounces from ../shared/corpus/dsn are
counted against the right member (and nobody else, e.g. not the author of
the returned post) and disable delivery at bounce_threshold, with the
owners told and a probe sent; a bounced probe removes the member, an
answered one re-enables; non-bounce mail is forwarded to the owners."""
import email
import email.policy
import email.utils
import re
import sqlite3
from kt import *

t = Tap()

# Reports that are not RFC 3464 and name no X-Failed-Recipients: what a
# human reading them sees as the failed recipient.
PLAIN_REPORTS = {
    "sisimai-lhost-qmail-01.eml": ["kijitora@example.ne.jp"],
    "sisimai-lhost-mfilter-01.eml": ["kijitora@example.com"],
    "sisimai-lhost-biglobe-01.eml": ["postmaster@mxr.biglobe.ne.jp"],
    "sisimai-lhost-exchange2007-01.eml": ["mikeneko@example.co.jp"],
    "flanker-bounce-broken-mime.eml": ["info@example.net"],
    # multipart/report without boundaries: the DSN fields are plain text
    "sisimai-rfc3464-04.eml": ["kijitora@mailx-53.neko.example.edu"],
}


def norm(a):
    a = a.strip().strip("<>").strip()
    if "@" not in a:
        return None
    local, dom = a.rsplit("@", 1)
    return f"{local}@{dom.lower()}"


def expected_failures(name, msg):
    """(is_bounce, failed addresses) as a reader of the report sees them."""
    found, dsn = [], False
    for part in msg.walk():
        if part.get_content_type() in ("message/delivery-status", "message/global-delivery-status"):
            dsn = True
            blocks = part.get_payload()
            for b in blocks[1:] if isinstance(blocks, list) else []:
                action = (b.get("Action") or "").strip().lower()
                status = (b.get("Status") or "").strip()
                failed = action.startswith("failed") if action else status.startswith("5")
                rcpt = b.get("Original-Recipient") or b.get("Final-Recipient")
                if failed and rcpt:
                    found.append(norm(rcpt.split(";", 1)[-1]))
    if dsn:
        return True, found
    if msg.get("X-Failed-Recipients"):
        return True, [norm(x) for x in re.split(r"[,\s]+", msg["X-Failed-Recipients"]) if x]
    if name in PLAIN_REPORTS:
        return True, PLAIN_REPORTS[name]
    return False, []


def envelope_sender(msg):
    rp = msg.get("Return-Path")
    if rp:
        return email.utils.parseaddr(rp)[1]
    frm = email.utils.parseaddr(msg.get("From", ""))[1].lower()
    if not frm or "@" not in frm or frm.startswith(("mailer-daemon", "postmaster")):
        return ""
    return frm


def member_rows(inst):
    db = sqlite3.connect(inst.path("kairan.db"))
    rows = {a: (s, n, r) for a, s, n, r in
            db.execute("SELECT address, bounce_score, nomail, disabled_reason FROM members WHERE list='team'")}
    db.close()
    return rows


def add_members(inst, addrs):
    db = sqlite3.connect(inst.path("kairan.db"))
    for a in addrs:
        db.execute("INSERT OR IGNORE INTO members(list, address, since) VALUES('team', ?, 0)", (a,))
    db.commit()
    db.close()


def next_day(inst):
    """Move the members' last counted bounce one day back (at most one
    bounce a day counts)."""
    db = sqlite3.connect(inst.path("kairan.db"))
    db.execute("UPDATE members SET bounce_last = bounce_last - 86400 WHERE bounce_last IS NOT NULL")
    db.commit()
    db.close()


def admin_deliver(inst, raw, sender):
    args = ["deliver", "--admin", "team", "-f", sender if sender else "<>"]
    return inst.run(*args, stdin=raw)


files = corpus_files("dsn")
if not files:
    t.skip("corpus DSN bounces", "../shared/corpus/dsn is absent")
for path in files:
    name = os.path.basename(path)
    raw = open(path, "rb").read()
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    is_bounce, want = expected_failures(name, msg)
    want = sorted(set(a for a in want if a))
    inst = Instance()
    inst.newlist("team", owner="owner@example.org")
    inst.config("team", "bounce_threshold", "2")
    # recognition only: these reports return mail kairan never sent
    # (test_bounce_forged.py shows such bounces do not count by default)
    inst.config("team", "bounce_match", "any")
    # every address in the file is a member: only the failed ones may count
    everybody = set()
    for m in re.findall(rb"[A-Za-z0-9._%+=-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}", raw):
        a = norm(m.decode("ascii", "replace"))
        if a and not a.lower().startswith(("owner@", "team")):
            everybody.add(a)
    add_members(inst, everybody | set(want))
    sender = envelope_sender(msg)
    r1 = admin_deliver(inst, raw, sender)
    rows1 = member_rows(inst)
    next_day(inst)                  # one bounce a day counts
    r2 = admin_deliver(inst, raw, sender)
    rows = member_rows(inst)
    disabled = sorted(a for a, (s, n, why) in rows.items() if n and why == "bounce")
    counted = sorted(a for a, (s, n, why) in rows.items() if s > 0)
    forwarded = [q for q in inst.queue() if q["msg"].get("X-Kairan-Notice") is None
                 and "owner@example.org" in q["rcpts"]]
    ok = r1.returncode == 0 and r2.returncode == 0
    if is_bounce and want:
        t.ok(ok and disabled == want and counted == want and
             all(not rows1[a][1] for a in want),
             f"{name}: {', '.join(want)} disabled after 2 bounces, nobody else counted",
             f"disabled={disabled} counted={counted} rc={r1.returncode}/{r2.returncode} {r1.stderr!r}\n{inst.log()}")
        t.ok(len(forwarded) == 0, f"{name}: bounce not forwarded to the owners")
    elif is_bounce:
        t.ok(ok and not counted and not forwarded, f"{name}: report without failures counted for nobody, not forwarded",
             f"counted={counted} forwarded={len(forwarded)}\n{inst.log()}")
    else:
        t.ok(ok and not counted and len(forwarded) == 2,
             f"{name}: not a bounce: forwarded to the owners, nobody counted",
             f"counted={counted} forwarded={len(forwarded)}\n{inst.log()}")

# --- threshold, owners told, probe; probe bounce removes; probe answer re-enables
inst = Instance()
inst.newlist("team", owner="owner@example.org")
inst.subscribe("team", "gone@example.net", "back@example.net", "fine@example.net")
inst.config("team", "bounce_threshold", "3")
# a post really distributed to them: the DSNs below return its header
inst.run("config", "team", "post_policy", "anyone")
inst.deliver("team", make_msg(subject="a post"), sender="fine@example.net")
POST = inst.archive("team", 1).as_bytes().split(b"\n\n", 1)[0] + b"\n\nhi\n"
inst.clear_queue()


def dsn(rcpt, returned=b"", status="5.1.1"):
    return (f"""From: MAILER-DAEMON@mx.example.net (Mail Delivery System)
To: team-admin@{DOMAIN}
Subject: Undelivered Mail Returned to Sender
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
Status: {status}

--BB
Content-Type: message/rfc822

""").encode() + (returned or POST) + b"\n--BB--\n"


for i in range(2):
    admin_deliver(inst, dsn("gone@example.net"), "")
    next_day(inst)
rows = member_rows(inst)
t.ok(rows["gone@example.net"][1] == 0 and rows["gone@example.net"][0] == 2, "below bounce_threshold still delivered")
inst.clear_queue()
admin_deliver(inst, dsn("gone@example.net"), "")
rows = member_rows(inst)
t.ok(rows["gone@example.net"][1] == 1 and rows["gone@example.net"][2] == "bounce", "disabled at the threshold")
t.ok(rows["fine@example.net"][0] == 0, "other members untouched")
told = notices(inst, "bounce_disabled", "owner@example.org")
t.eq(len(told), 1, "owners told that delivery was disabled")
probes = notices(inst, "probe", "gone@example.net")
t.eq(len(probes), 1, "a probe was sent to the member")
inst.clear_queue()
inst.deliver("team", make_msg(subject="after disable"), sender="fine@example.net")
t.ok(all("gone@example.net" not in q["rcpts"] for q in inst.queue()), "no posts to the disabled member")
# the probe bounces: removed
inst.clear_queue()
inst.config("team", "notify_membership", "yes")   # s12-memb: still one mail to the owners
r = admin_deliver(inst, dsn("gone@example.net", probes[0]["raw"]), "")
t.ok(r.returncode == 0 and "gone@example.net" not in inst.check("members", "team"), "bounced probe removes the member")
t.eq(len(notices(inst, "bounce_removed", "owner@example.org")), 1, "owners told of the removal")
t.eq(len(notices(inst, "notice_unsubscribe", "owner@example.org")), 0,
     "notify_membership: the bounce notice is the owners' one mail about the removal")

# another member answers the probe
for i in range(3):
    admin_deliver(inst, dsn("back@example.net"), "")
    next_day(inst)
probe = notices(inst, "probe", "back@example.net")[0]["msg"]
inst.clear_queue()
reply = ctl_mail("", subject="Re: " + str(probe["Subject"]), frm="back@example.net")
inst.deliver("team", reply, sender="back@example.net", mode="--ctl")
rows = member_rows(inst)
t.ok(rows["back@example.net"][1] == 0 and rows["back@example.net"][0] == 0, "answering the probe re-enables delivery",
     rows["back@example.net"])

# soft bounces and delays
admin_deliver(inst, dsn("fine@example.net", status="4.2.2"), "")
t.eq(member_rows(inst)["fine@example.net"][0], 0.5, "a 4.x.x failure counts half")

# --- -admin mail that is not a bounce goes to the owners -------------------------
inst.config("team", "owners", "owner@example.org, co@example.org")
inst.clear_queue()
r = inst.deliver("team", make_msg(subject="question for the owners", frm="someone@example.com",
                                   to=f"team-admin@{DOMAIN}"), sender="someone@example.com", mode="--admin")
q = inst.queue()
t.ok(r.returncode == 0 and len(q) == 1 and sorted(q[0]["rcpts"]) == ["co@example.org", "owner@example.org"],
     "non-bounce -admin mail forwarded to every owner")
t.ok(q and q[0]["msg"]["Subject"] == "question for the owners" and q[0]["msg"]["X-Kairan-Forwarded"] == "team",
     "forwarded as received, marked")
t.eq(q and q[0]["sender"], f"team-admin@{DOMAIN}", "forward's envelope sender is LIST-admin")
# a returned forward is not forwarded again
inst.clear_queue()
r = admin_deliver(inst, dsn("owner@example.org", q[0]["raw"]), "")
t.ok(r.returncode == 0 and len(inst.queue()) == 0, "a bounced forward is not forwarded again (no loop)")

t.done()
