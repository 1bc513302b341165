"""test_ctl_archive.py - archive commands (get, mget, index, search) and digests:
mget returns multipart/digest mails whose message/rfc822 parts are the
right posts in order, split above mget_max_size; RFC 1153 plain format;
`kairan digest` sends to digest members only and marks posts digested."""
import sqlite3
from kt import *

t = Tap()
inst = Instance()
inst.newlist("team", owner="owner@example.org")
inst.subscribe("team", "member@example.org", "digester@example.org", "plain@example.org")
inst.config("team", "post_policy", "anyone")
for i in range(1, 8):
    r = inst.deliver("team", make_msg(subject=f"post number {i}", body=f"body of post {i}\n" + "x" * 2000 + "\n"),
                     sender="member@example.org")
    assert r.returncode == 0, r.stderr
t.eq(inst.archive_numbers("team"), list(range(1, 8)), "seven posts archived")


def ctl(body, frm="member@example.org"):
    inst.clear_queue()
    inst.deliver("team", ctl_mail(body, "", frm), sender=frm, mode="--ctl")
    return inst.queue()


def subjects_of_digest(msg):
    out = []
    for part in msg.walk():
        if part.get_content_type() == "multipart/digest":
            for sub in part.iter_parts():
                if sub.get_content_type() == "message/rfc822":
                    out.append(str(sub.get_content()["Subject"]))
    return out


# --- get -----------------------------------------------------------------
q = ctl("get 3\nget 99")
reps = [x for x in q if x["msg"]["X-Kairan-Notice"] == "ctl_reply"]
t.eq(len(reps), 1, "get: one reply")
m = reps[0]["msg"]
att = [p for p in m.walk() if p.get_content_type() == "message/rfc822"]
t.ok(len(att) == 1 and "post number 3" in str(att[0].get_content()["Subject"]), "get 3 attaches post 3")
t.ok("no post 99" in body_text(m), "get of a missing post reported")

# --- mget in order ------------------------------------------------------------
q = ctl("mget 2-5")
digs = [x for x in q if x["msg"]["X-Kairan-Notice"] == "digest"]
t.eq(len(digs), 1, "mget 2-5: one digest mail")
subs = subjects_of_digest(digs[0]["msg"])
t.ok(len(subs) == 4 and all(f"post number {n}" in s for n, s in zip(range(2, 6), subs)),
     "mget digest holds posts 2..5 as message/rfc822 in order", subs)
t.eq(digs[0]["rcpts"], ["member@example.org"], "mget digest goes to the requester")
rep = [x for x in q if x["msg"]["X-Kairan-Notice"] == "ctl_reply"]
t.ok(rep and "4 post(s)" in body_text(rep[0]["msg"]), "reply tells what was sent")

q = ctl("mget last:2")
digs = [x for x in q if x["msg"]["X-Kairan-Notice"] == "digest"]
subs = subjects_of_digest(digs[0]["msg"]) if digs else []
t.ok(len(subs) == 2 and "post number 6" in subs[0] and "post number 7" in subs[1], "mget last:2", subs)

# split above the limit
inst.config("team", "mget_max_size", "5000")
q = ctl("mget 1-7")
digs = [x for x in q if x["msg"]["X-Kairan-Notice"] == "digest"]
allsubs = [s for d in digs for s in subjects_of_digest(d["msg"])]
t.ok(len(digs) >= 3, f"mget above mget_max_size split into several mails ({len(digs)})")
t.ok(len(allsubs) == 7 and all(f"post number {n}" in s for n, s in zip(range(1, 8), allsubs)),
     "split digests together hold 1..7 in order", allsubs)
t.ok(all("(" in str(d["msg"]["Subject"]) and "/" in str(d["msg"]["Subject"]) for d in digs), "split parts numbered n/N")
inst.config("team", "mget_max_size", "1048576")

q = ctl("mget 1-2 plain")
digs = [x for x in q if x["msg"]["X-Kairan-Notice"] == "digest"]
txt = body_text(digs[0]["msg"]) if digs else ""
t.ok(digs and digs[0]["msg"].get_content_type() == "text/plain" and "body of post 1" in txt
     and "body of post 2" in txt and "End of" in txt, "mget plain is an RFC 1153 text digest")

# --- index ---------------------------------------------------------------------
q = ctl("index")
txt = body_text(q[0]["msg"])
t.ok(all(f"post number {n}" in txt for n in range(1, 8)), "index lists every post", txt)
q = ctl("index\nget 1\nmget 1-3", frm="stranger@example.com")
txt = body_text(q[0]["msg"])
t.ok(txt.count("not available") == 3 and len(q) == 1, "index/get/mget refused to a non-member", txt)
inst.config("team", "archive_access", "public")
q = ctl("index", frm="stranger@example.com")
t.ok("post number 1" in body_text(q[0]["msg"]), "index for anyone with archive_access = public")
inst.config("team", "archive_access", "members")

# --- search ----------------------------------------------------------------------
q = ctl("search number 3")
txt = body_text(q[0]["msg"])
t.ok("post number 3" in txt and "post number 4" not in txt, "search: every word must occur (subject)", txt)
q = ctl("search BODY of post 5")
txt = body_text(q[0]["msg"])
t.ok("post number 5" in txt and "post number 6" not in txt, "search: words of the text, any case", txt)
q = ctl("search nothing-like-this")
t.ok("No post holds all of: nothing-like-this" in body_text(q[0]["msg"]), "search: nothing found is said")
q = ctl("search number", frm="stranger@example.com")
t.ok("not available" in body_text(q[0]["msg"]), "search follows archive_access (refused to a non-member)")
q = ctl("search")
t.ok("Usage: search WORD" in body_text(q[0]["msg"]), "search without words: usage")

# --- digests -------------------------------------------------------------------
for who in ("digester@example.org", "plain@example.org"):
    # `digest on` by mail acts once the member's address confirms it
    q = [x for x in ctl("digest on", frm=who) if x["msg"]["X-Kairan-Notice"] == "confirm_change"]
    ctl(str(q[0]["msg"]["Subject"]) if q else "", frm=who)
inst.clear_queue()
r = inst.deliver("team", make_msg(subject="post number 8"), sender="member@example.org")
q = inst.queue()
t.ok(len(q) == 1 and "digester@example.org" not in q[0]["rcpts"] and "member@example.org" in q[0]["rcpts"],
     "digest members do not get single posts")
inst.clear_queue()
r = inst.run("digest", "team")
t.eq(r.returncode, 0, "kairan digest runs")
t.eq(len(inst.queue()), 0, "nothing sent before digest_size or digest_interval is reached")
inst.config("team", "digest_size", "1000")
r = inst.run("digest")
q = inst.queue()
t.ok(len(q) == 1, "one digest mail when digest_size is reached", r.stderr)
if q:
    t.eq(sorted(q[0]["rcpts"]), ["digester@example.org", "plain@example.org"], "digest goes to digest members only")
    subs = subjects_of_digest(q[0]["msg"])
    t.eq(len(subs), 8, "the digest holds the 8 undigested posts")
    t.ok("post number 8" in subs[-1], "in order, last one last")
    t.eq(q[0]["msg"]["List-Id"], f"<team.{DOMAIN}>", "digest carries List-Id")
db = sqlite3.connect(inst.path("kairan.db"))
n = db.execute("SELECT count(*) FROM archive WHERE list='team' AND digested=0").fetchone()[0]
db.close()
t.eq(n, 0, "archive rows marked digested")
inst.clear_queue()
inst.run("digest")
t.eq(len(inst.queue()), 0, "a second run sends nothing")
# plain format, forced, interval
inst.config("team", "digest_format", "plain")
inst.deliver("team", make_msg(subject="post number 9", body="ninth\n"), sender="member@example.org")
inst.clear_queue()
r = inst.run("digest", "team", "--force")
q = inst.queue()
t.ok(len(q) == 1 and q[0]["msg"].get_content_type() == "text/plain" and "ninth" in body_text(q[0]["msg"]),
     "--force sends a plain digest", r.stderr)
t.ok(os.path.exists(os.path.join(SRCDIR, "etc", "kairan-digest.timer")), "systemd timer shipped in etc/")

t.done()
