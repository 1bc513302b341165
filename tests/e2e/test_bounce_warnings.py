"""test_bounce_warnings.py - what follows in time when bounces disabled a
member (issue #17, lib/bounce_warn.c), Mailman's
bounce_you_are_disabled_warnings: real RFC 3464 reports to LIST-admin
disable two members, then `kairan maintain` runs days later
(KAIRAN_TEST_NOW_OFFSET) at day 0, 3, 7, 14, 21 and 28.  The one who does
nothing gets warnings 1, 2, 3 at days 0, 7, 14 (none at 3 or 28), each
saying how to turn delivery on again (confirm, "mail", the options page
of web_url) and how many warnings are left, and is removed at day 21 with
the owners told once; the one who answers the first warning gets mail
again, no more warnings, and stays; a member who chose nomail and a list
address imported as a disabled member are never mailed; a score below the
limit is forgotten after bounce_stale_after; --dry-run says what would be
done and changes nothing; bounce_warnings = 0 removes at the next run."""
import re
import sqlite3

from kt import *

DAY = 86400
t = Tap()
OPTIONS_URL = "https://lists.example.org/kairan/list/team/options"


def at(days):
    return {"KAIRAN_TEST_NOW_OFFSET": str(int(days * DAY))}


def rows(inst):
    db = sqlite3.connect(inst.path("kairan.db"))
    out = {a: {"score": s, "nomail": n, "reason": r, "warnings": w} for a, s, n, r, w in db.execute(
        "SELECT address, bounce_score, nomail, disabled_reason, bounce_warnings FROM members WHERE list = 'team'")}
    db.close()
    return out


def dsn(rcpt, returned):
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
Status: 5.1.1

--BB
Content-Type: message/rfc822

""").encode() + returned + b"\n--BB--\n"


def bounce(inst, rcpt, days):
    r = inst.run("deliver", "--admin", "team", "-f", "<>", stdin=dsn(rcpt, POST), env=at(days))
    if r.returncode != 0:
        raise RuntimeError(r.stderr.decode())


FAILED_RUNS = []


def maintain(inst, day, *args):
    """kairan maintain at `day` days after the members were disabled;
    (report, {recipient: [warning mails]}) of that run only."""
    inst.clear_queue()
    r = inst.run("maintain", *args, env=at(BASE + day))
    if r.returncode != 0:
        FAILED_RUNS.append((day, args, r.returncode, r.stderr.decode(errors="replace")[-2000:]))
    warned = {}
    for q in notices(inst, "bounce_disabled_warning"):
        for rcpt in q["rcpts"]:
            warned.setdefault(rcpt, []).append(q)
    return r, warned


inst = Instance()
inst.newlist("team", owner="owner@example.org")
set_global(inst, web_url="https://lists.example.org/kairan/")
inst.subscribe("team", "gone@example.net", "back@example.net", "quiet@example.net", "fine@example.net")
inst.config("team", "bounce_threshold", "2")
inst.config("team", "post_policy", "anyone")
inst.deliver("team", make_msg(subject="a post"), sender="fine@example.net")
POST = inst.archive("team", 1).as_bytes().split(b"\n\n", 1)[0] + b"\n\nhi\n"

# quiet@ turns delivery off itself, by the real command mail and its confirmation
inst.deliver("team", ctl_mail("nomail", frm="quiet@example.net"), sender="quiet@example.net", mode="--ctl")
req = notices(inst, "confirm_change", "quiet@example.net")
tok = re.search(r"confirm ([0-9a-f]{32})", str(req[0]["msg"]["Subject"])) if req else None
if tok:
    inst.deliver("team", ctl_mail(f"confirm {tok.group(1)}", frm="quiet@example.net"),
                 sender="quiet@example.net", mode="--ctl")
# a list address among the members (as an import may bring it), disabled by bounces
db = sqlite3.connect(inst.path("kairan.db"))
db.execute("INSERT INTO members(list, address, since, nomail, disabled_reason, bounce_score)"
           f" VALUES('team', 'team-ctl@{DOMAIN}', 0, 1, 'bounce', 2)")
db.commit()
db.close()

# two bounces a day apart disable gone@ and back@; one bounce for fine@
bounce(inst, "gone@example.net", 0)
bounce(inst, "back@example.net", 0)
bounce(inst, "fine@example.net", 0)
bounce(inst, "gone@example.net", 1)
bounce(inst, "back@example.net", 1)
BASE = 1
r0 = rows(inst)
t.ok(r0["gone@example.net"]["reason"] == "bounce" and r0["back@example.net"]["reason"] == "bounce"
     and r0["gone@example.net"]["nomail"] == 1, "two bounce reports disabled gone@ and back@", r0)
t.ok(r0["quiet@example.net"]["nomail"] == 1 and r0["quiet@example.net"]["reason"] is None,
     "quiet@ chose nomail by the command mail", r0.get("quiet@example.net"))
t.ok(r0["fine@example.net"]["score"] == 1 and r0["fine@example.net"]["nomail"] == 0, "fine@ has score 1, still gets mail")

owner_removed = []
# ---- day 0: the first warning -------------------------------------------
r, w = maintain(inst, 0)
t.ok(r.returncode == 0, "maintain at day 0", r.stderr)
t.eq(sorted(w), ["back@example.net", "gone@example.net"], "day 0: the two disabled members get one warning each")
t.eq(len(w.get("gone@example.net", [])), 1, "day 0: exactly one warning to gone@")
if "gone@example.net" in w:
    m = w["gone@example.net"][0]["msg"]
    body = body_text(m)
    t.ok("1 of 3" in str(m["Subject"]) and OPTIONS_URL in body and '"mail"' in body and "2 more warning" in body
         and f"team-ctl@{DOMAIN}" in body,
         "the warning says why, how to turn delivery on (confirm, mail, the options page), 2 warnings left", body)
    t.eq(str(m["Reply-To"]), f"team-ctl@{DOMAIN}", "a reply to the warning goes to LIST-ctl")
t.ok(all(f"team-ctl@{DOMAIN}" not in q["rcpts"] for q in inst.queue()), "no mail to the list address member")
t.ok("quiet@example.net" not in w, "no warning to the member who chose nomail")
t.ok("gone@example.net" in r.stdout.decode(), "the report names the warned member", r.stdout)

# back@ answers its first warning: delivery on again, the count cleared
subj = str(w["back@example.net"][0]["msg"]["Subject"]) if "back@example.net" in w else ""
inst.clear_queue()
inst.deliver("team", ctl_mail("", subject="Re: " + subj, frm="back@example.net"), sender="back@example.net",
             mode="--ctl")
rb = rows(inst)["back@example.net"]
t.ok(rb["nomail"] == 0 and rb["reason"] is None and rb["warnings"] == 0,
     "replying to the warning turns delivery on and clears the warnings", rb)

# ---- day 3: nothing is due ----------------------------------------------
r, w = maintain(inst, 3)
t.eq(w, {}, "day 3: no warning (less than bounce_warn_interval since the first)")
t.eq(rows(inst)["fine@example.net"]["score"], 1, "day 3: fine@'s score kept (last bounce 4 days ago)")

# ---- day 7: dry run, then the second warning; fine@'s score forgotten ------
before = rows(inst)
r, w = maintain(inst, 7, "--dry-run")
out = r.stdout.decode()
t.ok(r.returncode == 0 and "would warn <gone@example.net>" in out and "warning 2 of 3" in out
     and "would reset the bounce score of 1" in out, "dry run: says it would warn gone@ and reset a score", out)
t.ok(w == {} and inst.queue() == [] and rows(inst) == before, "dry run: nothing sent, nothing changed")
r, w = maintain(inst, 7)
t.eq(sorted(w), ["gone@example.net"], "day 7: the second warning, to gone@ only (back@ re-enabled)")
if w.get("gone@example.net"):
    t.ok("2 of 3" in str(w["gone@example.net"][0]["msg"]["Subject"]), "day 7: it says warning 2 of 3")
t.eq(rows(inst)["fine@example.net"]["score"], 0, "day 7: fine@'s score reset (last bounce older than bounce_stale_after)")
t.eq(rows(inst)["gone@example.net"]["score"], 2, "a disabled member keeps its score")

# ---- day 14: the last warning ------------------------------------------
r, w = maintain(inst, 14)
t.eq(sorted(w), ["gone@example.net"], "day 14: the third and last warning")
if w.get("gone@example.net"):
    t.ok("3 of 3" in str(w["gone@example.net"][0]["msg"]["Subject"])
         and "0 more warning" in body_text(w["gone@example.net"][0]["msg"]), "day 14: warning 3 of 3, none left")
t.eq(rows(inst)["gone@example.net"]["warnings"], 3, "three warnings counted in the database")

# ---- day 21: removed, owners told once ---------------------------------
r, w = maintain(inst, 21, "--dry-run")
t.ok("would remove <gone@example.net>" in r.stdout.decode() and "gone@example.net" in rows(inst),
     "day 21 dry run: would remove gone@, still a member", r.stdout)
r, w = maintain(inst, 21)
owner_removed += notices(inst, "bounce_removed_warned", "owner@example.org")
members = inst.check("members", "team")
t.ok(w == {} and "gone@example.net" not in members, "day 21: gone@ removed, no fourth warning", members)
t.ok(all("gone@example.net" not in q["rcpts"] for q in inst.queue()), "day 21: nothing sent to the removed address")
if owner_removed:
    t.ok("gone@example.net" in body_text(owner_removed[0]["msg"]), "the owners' notice names the address")

# ---- day 28: nothing more ------------------------------------------------
r, w = maintain(inst, 28)
owner_removed += notices(inst, "bounce_removed_warned", "owner@example.org")
t.eq(w, {}, "day 28: no warning to anybody")
t.eq(len([q for q in owner_removed if "gone@example.net" in str(q["msg"]["Subject"])]), 1,
     "the owners were told of gone@'s removal exactly once")
rr = rows(inst)
t.ok("back@example.net" in rr and rr["back@example.net"]["nomail"] == 0, "back@ stays and gets mail")
t.ok("quiet@example.net" in rr and rr["quiet@example.net"]["nomail"] == 1, "quiet@ stays, still nomail")
t.ok(f"team-ctl@{DOMAIN}" not in rr, "the list address row is removed after its (unsent) warnings")
t.ok(all(f"team-ctl@{DOMAIN}" not in q["rcpts"] for q in inst.queue()), "never any mail to the list address")
inst.deliver("team", make_msg(subject="after"), sender="fine@example.net")
fan = [q for q in inst.queue() if q["msg"].get("X-Kairan-Notice") is None]
t.ok(fan and "back@example.net" in fan[0]["rcpts"] and "quiet@example.net" not in fan[0]["rcpts"],
     "a post reaches back@ again, not quiet@")

# ---- bounce_warnings = 0: removed at the next run --------------------------
inst2 = Instance()
inst2.newlist("team", owner="owner@example.org")
inst2.subscribe("team", "gone@example.net")
inst2.config("team", "bounce_threshold", "1")
inst2.config("team", "bounce_warnings", "0")
inst2.config("team", "post_policy", "anyone")
inst2.deliver("team", make_msg(subject="a post"), sender="gone@example.net")
POST = inst2.archive("team", 1).as_bytes().split(b"\n\n", 1)[0] + b"\n\nhi\n"
bounce(inst2, "gone@example.net", 0)
t.eq(rows(inst2)["gone@example.net"]["reason"], "bounce", "bounce_warnings = 0: disabled by one report")
BASE = 0
r, w = maintain(inst2, 0)
t.ok(w == {} and "gone@example.net" not in rows(inst2)
     and len(notices(inst2, "bounce_removed_warned", "owner@example.org")) == 1,
     "bounce_warnings = 0: removed at the next run without a warning, owners told", r.stdout)
# ---- Mailman 2.1's settings come along with kairan import mailman2 ---------
import os
mm2 = os.path.join(inst2.home, "mm2")
os.makedirs(mm2)
with open(os.path.join(mm2, "config"), "w") as f:
    f.write("real_name = 'Dev'\nhost_name = 'mm.example'\nowner = ['boss@mm.example']\n"
            "bounce_you_are_disabled_warnings = 2\nbounce_you_are_disabled_warnings_interval = 5\n"
            "bounce_info_stale_after = 10\n")
with open(os.path.join(mm2, "regular"), "w") as f:
    f.write("taro@mm.example\n")
r = inst2.run("import", "mailman2", mm2)
c = lambda k: inst2.run("config", "dev", k).stdout.decode().strip()
t.ok(r.returncode == 0 and [c("bounce_warnings"), c("bounce_warn_interval"), c("bounce_stale_after")]
     == ["2", "5d", "10d"],
     "import mailman2: bounce_you_are_disabled_warnings(_interval), bounce_info_stale_after (days) are mapped",
     r.stderr.decode() + r.stdout.decode() + repr([c("bounce_warnings"), c("bounce_warn_interval"), c("bounce_stale_after")]))
out = r.stdout.decode()
t.ok("bounce_warn_interval = 5d  (from config bounce_you_are_disabled_warnings_interval)" in out
     and "settings not mapped: 0" in out, "import mailman2: the report names where each came from, none unmapped", out)
t.ok(not FAILED_RUNS, "every kairan maintain run exited 0 (clean under the sanitizers too)", FAILED_RUNS)
t.done()
