"""test_mailbomb.py - kairan cannot be used as a mail bomb (README "Abuse
limits").  Through the real `kairan deliver`, four at a time:
- 1,000 command mails from one sender to LIST-ctl: at most ctl_reply_limit
  (20) replies, the drop logged once;
- 1,000 forged `subscribe` requests in the name of one victim: at most
  ctl_reply_limit replies and confirm_limit (5) confirmation requests;
- `chaddr MEMBER NEW` from 30 different senders: at most confirm_limit
  confirmation requests reach the member;
- 200 posts from a non-member: every run exits 0, at most refusal_limit
  (10) refusals, nothing archived;
while a normal member and another stranger are served as usual; the
counters are in kairan.db, the limits are per list settings (0 = none) and
last an hour."""
import concurrent.futures
import sqlite3

from kt import *

t = Tap()
inst = Instance()
inst.newlist("team", owner="owner@example.org")
inst.subscribe("team", "member@example.org")
CTL = f"team-ctl@{DOMAIN}"


def run_all(jobs, mode=None):
    """Deliver (msg, sender) pairs, four runs at a time; exit codes."""
    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        return list(ex.map(lambda j: inst.deliver("team", j[0], sender=j[1], mode=mode).returncode, jobs))


def mails_to(addr, kind=None):
    return [q for q in inst.queue() if addr in q["rcpts"] and
            (kind is None or q["msg"].get("X-Kairan-Notice") == kind)]


# 1. one sender, 1,000 command mails
codes = run_all([(ctl_mail(f"help\nstatus\n", subject=f"bomb {i}", frm="attacker@example.net"),
                  "attacker@example.net") for i in range(1000)], mode="--ctl")
t.eq(set(codes), {0}, "1,000 command mails from one sender: every run exits 0")
replies = mails_to("attacker@example.net")
t.eq(len(replies), 20, f"only ctl_reply_limit (20) replies queued, not 1,000 ({len(replies)})")
t.ok(all(q["msg"].get("X-Kairan-Notice") == "ctl_reply" for q in replies), "they are command replies")
log = inst.log()
t.eq(log.count("ctl_reply limit reached for <attacker@example.net>"), 1, "the drop is logged once per window")

# 2. 1,000 forged subscribe requests for one victim
codes = run_all([(ctl_mail("subscribe", subject=f"s{i}", frm="Victim <victim@example.com>"),
                  f"forger{i % 7}@example.net") for i in range(1000)], mode="--ctl")
t.eq(set(codes), {0}, "1,000 forged subscribe requests: every run exits 0")
confirms = mails_to("victim@example.com", "confirm_subscribe")
t.ok(1 <= len(confirms) <= 5, f"confirmation requests to the victim limited by confirm_limit (5): {len(confirms)}")
total = mails_to("victim@example.com")
t.ok(len(total) <= 25, f"all mail to the victim bounded (<= 20 replies + 5 confirmations): {len(total)}")
limited = [q for q in total if q["msg"].get("X-Kairan-Notice") == "ctl_reply" and
           "Too many confirmation requests" in body_text(q["msg"])]
t.ok(len(limited) >= 1, "replies past confirm_limit say so instead of sending a confirmation")
db = sqlite3.connect(inst.path("kairan.db"), timeout=30)
tokens = db.execute("SELECT count(*) FROM tokens WHERE address = 'victim@example.com'").fetchone()[0]
t.eq(tokens, len(confirms), "no token made for a confirmation not sent")
rows = dict(((k, key), c) for k, key, c in db.execute("SELECT kind, key, count FROM rate_limits"))
t.eq(rows.get(("ctl_reply", "attacker@example.net")), 20, "counters kept in kairan.db (rate_limits)")

# 3. a third party's address as target: chaddr from many senders
codes = run_all([(ctl_mail("chaddr member@example.org new@example.org", frm=f"s{i}@example.net"),
                  f"s{i}@example.net") for i in range(30)], mode="--ctl")
t.eq(set(codes), {0}, "30 chaddr requests for one member: every run exits 0")
chaddr = mails_to("member@example.org", "confirm_chaddr_old")
t.eq(len(chaddr), 5, f"the member gets at most confirm_limit (5) chaddr confirmations ({len(chaddr)})")

# 4. 200 non-member posts
before = len(inst.queue())
codes = run_all([(make_msg(f"spam {i}", frm="stranger@example.net"), "stranger@example.net") for i in range(200)])
t.eq(set(codes), {0}, "200 non-member posts: every run exits 0 (refused, not retried)")
refusals = mails_to("stranger@example.net", "refused")
t.eq(len(refusals), 10, f"only refusal_limit (10) refusals ({len(refusals)})")
t.eq(inst.archive_numbers("team"), [], "nothing archived")
t.eq(inst.log().count("refusal limit reached for <stranger@example.net>"), 1, "the refusal drop is logged once")

# 5. everybody else is served as usual
r = inst.deliver("team", ctl_mail("status", frm="member@example.org"), sender="member@example.org", mode="--ctl")
t.ok(r.returncode == 0 and len(mails_to("member@example.org", "ctl_reply")) == 1,
     "a member's command mail is answered")
r = inst.deliver("team", make_msg("hello", frm="member@example.org"), sender="member@example.org")
t.ok(r.returncode == 0 and inst.archive_numbers("team") == [1], "a member's post is distributed")
r = inst.deliver("team", make_msg("hi", frm="other@example.net"), sender="other@example.net")
t.ok(r.returncode == 0 and len(mails_to("other@example.net", "refused")) == 1,
     "another non-member still gets a refusal")
r = inst.deliver("team", ctl_mail("subscribe", frm="newbie@example.org"), sender="newbie@example.org", mode="--ctl")
t.eq(len(mails_to("newbie@example.org", "confirm_subscribe")), 1, "a real subscriber gets the confirmation")

# 6. the limits are settings
t.eq(inst.run("config", "team", "ctl_reply_limit", "many").returncode, 64, "invalid ctl_reply_limit refused (64)")
inst.config("team", "ctl_reply_limit", "3")
run_all([(ctl_mail("help", frm="third@example.net"), "third@example.net") for _ in range(10)], mode="--ctl")
t.eq(len(mails_to("third@example.net")), 3, "ctl_reply_limit = 3: three replies")
inst.config("team", "refusal_limit", "0")
run_all([(make_msg(f"x{i}", frm="free@example.net"), "free@example.net") for i in range(15)])
t.eq(len(mails_to("free@example.net", "refused")), 15, "refusal_limit = 0: no limit")

# 7. per hour: once the window is over, the sender is answered again
with db:
    db.execute("UPDATE rate_limits SET window_start = window_start - 3601")
db.close()
n = len(mails_to("attacker@example.net"))
inst.deliver("team", ctl_mail("help", frm="attacker@example.net"), sender="attacker@example.net", mode="--ctl")
t.eq(len(mails_to("attacker@example.net")), n + 1, "an hour later the sender is answered again")

# 8. the web subscribe form counts against the same confirm_limit
from kt import WebClient
web = WebClient(inst, cgi=True)
codes = [web.form_post("/list/team/subscribe", data={"address": "webvictim@example.net"}).status for _ in range(7)]
t.eq(codes, [200] * 5 + [429] * 2, "web subscribe form: 5 confirmations, then 429 for that address")
t.eq(len(mails_to("webvictim@example.net", "confirm_subscribe")), 5, "no more than confirm_limit confirmations via the web")
r = web.form_post("/list/team/subscribe", data={"address": "someone-else@example.net"})
t.eq(r.status, 200, "another address is still served by the form")
t.done()
