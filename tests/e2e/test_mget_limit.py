"""test_mget_limit.py - security issue 12, finding 4 (mget bomb): one
command mail full of overlapping get/mget ranges sends every post at most
once, the archive mail one address gets is capped per hour in mails
(send_limit_mails) and in bytes (send_limit_bytes), and the reply says
what was sent, what was not and why; the next mail within the hour gets
nothing more."""
import re
from kt import *

t = Tap()


def setup(nposts, **conf):
    inst = Instance()
    inst.newlist("team", owner="owner@example.org")
    inst.subscribe("team", "member@example.org")
    inst.config("team", "post_policy", "anyone")
    inst.config("team", "send_to_author", "no")
    for k, v in conf.items():
        inst.run("config", "team", k, v)   # (a build without these keys refuses them: its checks fail)
    for i in range(1, nposts + 1):
        r = inst.deliver("team", make_msg(subject=f"post number {i}", body=f"body of post {i}\n" + "x" * 3000 + "\n"),
                         sender="member@example.org")
        assert r.returncode == 0, r.stderr
    inst.clear_queue()
    return inst


def ctl(inst, body, frm="member@example.org"):
    inst.clear_queue()
    r = inst.deliver("team", ctl_mail(body, "", frm), sender=frm, mode="--ctl")
    assert r.returncode == 0, r.stderr
    q = inst.queue()
    digs = [x for x in q if x["msg"]["X-Kairan-Notice"] == "digest"]
    reps = [x for x in q if x["msg"]["X-Kairan-Notice"] == "ctl_reply"]
    return digs, reps


def posts_in(msgs):
    """Post numbers carried (message/rfc822 parts), in order, repeats kept."""
    out = []
    for m in msgs:
        for part in m.walk():
            if part.get_content_type() == "message/rfc822":
                s = str(part.get_content()["Subject"])
                n = re.search(r"post number (\d+)", s)
                if n:
                    out.append(int(n.group(1)))
    return out


def expand(spec):
    out = []
    for p in spec.split(","):
        a, _, b = p.partition("-")
        out += list(range(int(a), int(b or a) + 1))
    return out


def not_sent(text):
    """Post numbers the reply says were not sent."""
    out = []
    for m in re.finditer(r"Not sent: post\(s\) ([0-9,-]+)\.", text):
        out += expand(m.group(1))
    return out


# --- 20 overlapping mget ranges in one mail: the mget bomb ----------------
inst = setup(40, mget_max_size="5000")
bomb = "\n".join(f"mget {i}-{i + 20}" for i in range(1, 21))
digs, reps = ctl(inst, bomb)
sent = posts_in(d["msg"] for d in digs)
text = body_text(reps[0]["msg"]) if reps else ""
t.ok(len(digs) <= 30, f"20 overlapping mget ranges: at most send_limit_mails (30) mails queued ({len(digs)})")
t.ok(len(sent) == len(set(sent)), f"every post sent at most once ({len(sent)} sent, {len(set(sent))} distinct)")
t.ok(len(reps) == 1 and "send_limit_mails = 30" in text and "ask again in an hour" in text,
     "the reply says it stopped at send_limit_mails", text[-2000:])
held = not_sent(text)
t.ok(held and sorted(set(sent) | set(held)) == list(range(1, 41)) and not set(sent) & set(held),
     "the reply names exactly the posts not sent; sent + not sent = all requested",
     f"sent={sorted(set(sent))} held={held}")
t.ok(all(d["rcpts"] == ["member@example.org"] for d in digs), "the digests go to the requester only")
t.ok("send limit reached for <member@example.org>" in inst.log(), "the stop is logged")

# the next command mail in the same hour: nothing more
digs, reps = ctl(inst, "mget 1-3\nget 5")
text = body_text(reps[0]["msg"]) if reps else ""
att = [p for p in reps[0]["msg"].walk() if p.get_content_type() == "message/rfc822"] if reps else []
t.ok(not digs and not att and text.count("Not sent") == 2,
     "within the hour a further mget and get send nothing and say why", text)
# other addresses keep their own budget
inst.subscribe("team", "other@example.org")
digs, reps = ctl(inst, "mget 1-3", frm="other@example.org")
t.eq(sorted(posts_in(d["msg"] for d in digs)), [1, 2, 3], "another address still gets its mget")

# --- each post once a mail, below any limit ---------------------------------
inst = setup(8)
digs, reps = ctl(inst, "get 3\nget 03\nmget 2-4\nmget 1-6\nmget last:3")
m = reps[0]["msg"]
att = [p for p in m.walk() if p.get_content_type() == "message/rfc822"]
sent = posts_in(d["msg"] for d in digs)
text = body_text(m)
t.eq(len(att), 1, "get 3 twice: one attachment")
t.ok(sorted(sent) == [1, 2, 4, 5, 6, 7, 8] and len(sent) == len(set(sent)),
     "overlapping mget ranges: each post once, not the one get attached", sent)
t.ok("Post 03 was already sent" in text and "Post(s) 3 of 2-4 were already sent" in text
     and "Post(s) 2-4 of 1-6 were already sent" in text and "Post(s) 6 of last:3" in text,
     "the reply says which posts were already sent", text)

# --- the byte limit ---------------------------------------------------------
inst = setup(20, mget_max_size="7000", send_limit_mails="0", send_limit_bytes="20000")
digs, reps = ctl(inst, "mget 1-20\nget 20")
text = body_text(reps[0]["msg"]) if reps else ""
total = sum(len(d["raw"]) for d in digs)
sent = posts_in(d["msg"] for d in digs)
t.ok(0 < total <= 20000, f"send_limit_bytes 20000: {total} bytes of archive mail queued")
t.ok("send_limit_bytes = 20000" in text and sorted(set(sent) | set(not_sent(text))) == list(range(1, 21)),
     "the reply says what the byte limit kept back", text)
att = [p for p in reps[0]["msg"].walk() if p.get_content_type() == "message/rfc822"] if reps else []
t.ok(not att and "Not sent: post(s) 20." in text, "get after the stop attaches nothing", text)

# a single get counts its bytes too
inst = setup(3, send_limit_bytes="5000")
digs, reps = ctl(inst, "get 1\nget 2")
m = reps[0]["msg"]
att = [p for p in m.walk() if p.get_content_type() == "message/rfc822"]
t.ok(len(att) == 1 and "Not sent: post(s) 2." in body_text(m), "get attachments count against send_limit_bytes",
     body_text(m))

# a post larger than send_limit_bytes on its own is named as such, and does
# not stop the smaller ones
inst = setup(3, send_limit_bytes="5000")
inst.deliver("team", make_msg(subject="post number 4", body="big\n" + "y" * 8000 + "\n"), sender="member@example.org")
digs, reps = ctl(inst, "get 4\nget 3")
m = reps[0]["msg"]
att = [p for p in m.walk() if p.get_content_type() == "message/rfc822"]
t.ok(len(att) == 1 and "post number 3" in str(att[0].get_content()["Subject"])
     and "Not sent: post(s) 4, larger than send_limit_bytes (5000 bytes)" in body_text(m),
     "a post over send_limit_bytes by itself is refused as too large, the next one still goes", body_text(m))

# no mget_max_size: the mails are still cut to fit send_limit_bytes
inst = setup(10, mget_max_size="0", send_limit_mails="0", send_limit_bytes="20000")
digs, reps = ctl(inst, "mget 1-10")
sent = posts_in(d["msg"] for d in digs)
text = body_text(reps[0]["msg"])
t.ok(digs and all(len(d["raw"]) <= 20000 for d in digs) and "larger than" not in text
     and sorted(set(sent) | set(not_sent(text))) == list(range(1, 11)),
     f"mget_max_size 0: {len(digs)} mail(s) cut to fit send_limit_bytes, the rest named", text)

# 0 = no limit: everything goes
inst = setup(12, mget_max_size="4000", send_limit_mails="0", send_limit_bytes="0")
digs, reps = ctl(inst, "mget 1-12")
t.eq(sorted(posts_in(d["msg"] for d in digs)), list(range(1, 13)), "limits 0: the whole range is sent")
t.ok("Not sent" not in body_text(reps[0]["msg"]), "limits 0: nothing held back")

# settings are validated
r0 = inst.run("config", "team", "send_limit_mails", "5")
r = inst.run("config", "team", "send_limit_mails", "many")
t.ok(r0.returncode == 0 and r.returncode == 64 and "send_limit_mails" in inst.check("config", "team"),
     "send_limit_mails is a setting that takes a number")
t.done()
