"""test_ctl_admin.py - password-checked admin commands in command mail:
admin pass, fml's approve PASSWORD COMMAND, add/bye/config/members/held/
approve/reject/passwd, wrong passwords refused and slowed down (never
locked: the owner's right password still works) with the owners told
after 5, and the password never in the queue or the log."""
import glob
import re
import sqlite3
from kt import *

PW = "Sup3r-Secret-Pw"
t = Tap()
inst = Instance()
inst.newlist("team", owner="owner@example.org", password=PW)
inst.subscribe("team", "member@example.org")


def ctl(body, frm="owner@example.org", subject=""):
    inst.clear_queue()
    r = inst.deliver("team", ctl_mail(body, subject, frm), sender=frm, mode="--ctl")
    reps = notices(inst, "ctl_reply", frm)
    return r, (body_text(reps[0]["msg"]) if reps else None)


def everything_written():
    """Every file in the queue and the log, as bytes."""
    data = b""
    for p in glob.glob(inst.path("queue", "*", "*")):
        with open(p, "rb") as f:
            data += f.read()
    data += inst.log().encode()
    return data


# --- admin add / members / config / bye --------------------------------
r, text = ctl(f"admin pass {PW}\nadmin add new@example.net New Person\nadmin members\n"
              "admin config max_size 5000\nadmin config post_policy\nadmin config nosuchkey 1\n"
              "admin bye member@example.org\n")
t.eq(r.returncode, 0, "admin mail accepted")
t.ok(text and ">>> admin pass ********" in text, "password masked in the reply", text)
t.ok(PW not in (text or ""), "password not in the reply text")
t.ok("Authenticated" in text, "authenticated")
ms = inst.check("members", "team")
t.ok("new@example.net" in ms and "member@example.org" not in ms, "admin add and admin bye applied", ms)
t.ok(inst.check("config", "team", "max_size").strip().endswith("5000"), "admin config set max_size")
t.ok("post_policy = members" in text, "admin config KEY shows the value", text)
t.ok("unknown setting" in text, "unknown setting refused with the valid ones")
t.ok(len(notices(inst, "welcome", "new@example.net")) == 1, "welcome mail for the added member")
t.ok(PW.encode() not in everything_written(), "password never in queue files or the log")

# --- fml style approve PASSWORD COMMAND ---------------------------------
r, text = ctl(f"approve {PW} admin add fml@example.net\napprove {PW} members\n")
t.ok("fml@example.net" in inst.check("members", "team"), "approve PASSWORD admin add works")
t.ok(f"approve ******** admin add fml@example.net" in text and PW not in text, "approve line masked", text)

# --- held post approve/reject by mail -----------------------------------
inst.config("team", "post_policy", "moderated")
inst.clear_queue()
inst.deliver("team", make_msg(subject="needs approval", frm="new@example.net"), sender="new@example.net")
inst.deliver("team", make_msg(subject="to be rejected", frm="new@example.net"), sender="new@example.net")
held = inst.check("held", "team")
ids = dict((subj.strip(), i) for i, subj in re.findall(r"^([0-9a-f]{8})\s.*\d\s+(needs approval|to be rejected)$", held, re.M))
t.eq(len(ids), 2, "two posts held")
ids = [ids.get("needs approval"), ids.get("to be rejected")]
r, text = ctl(f"admin pass {PW}\nadmin held\nadmin approve {ids[0]}\nadmin reject {ids[1]} off topic\n")
t.ok("needs approval" in text and "to be rejected" in text, "admin held lists the held posts", text)
t.ok("distributed as number 1" in text, "admin approve distributed the held post", text)
t.ok(inst.archive("team", 1) is not None and "needs approval" in inst.archive("team", 1)["Subject"],
     "approved post is in the archive")
t.ok("no held posts" in inst.check("held", "team"), "nothing held any more")
t.ok(len(notices(inst, "held_rejected", "new@example.net")) == 1, "rejected post's sender told")

# --- not authenticated / not an owner -------------------------------------
r, text = ctl("admin add x@example.net")
t.ok("admin pass PASSWORD" in text and "x@example.net" not in inst.check("members", "team"),
     "admin command without admin pass refused")
r, text = ctl(f"admin pass {PW}\nadmin add y@example.net", frm="member2@example.org")
t.ok("Authentication failed" in text and "y@example.net" not in inst.check("members", "team"),
     "right password from a non-owner refused", text)

# --- wrong passwords: refused, slowed down, owners told after 5, never locked ---
import time
r, text = ctl("admin pass guess-a\nadmin pass guess-b\nadmin pass guess-c\n")
db = sqlite3.connect(inst.path("kairan.db"))
nfail = db.execute("SELECT failures FROM auth_guard WHERE key = 'acct:team'").fetchone()[0]
db.close()
t.eq(nfail, 1, "only the first admin pass of a mail is checked (one guess per mail)")
db = sqlite3.connect(inst.path("kairan.db"))
db.execute("DELETE FROM auth_guard")
db.commit()
db.close()
for i in range(4):
    r, text = ctl(f"admin pass wrong-{i}-guess\nadmin add evil@example.com")
t.ok(text.count("Authentication failed") >= 1 and "evil@example.com" not in inst.check("members", "team"),
     "wrong password refused", text)
t.ok("wrong-" not in text, "wrong password not echoed", text)
t.eq(len(notices(inst, "admin_guessing", "owner@example.org")), 0, "owners not told after 4 failures")
t0 = time.monotonic()
r, text = ctl("admin pass wrong-4-guess")
t.ok("Authentication failed" in text, "5th failure: authentication failed")
t.ok(time.monotonic() - t0 >= 0.3, "the 5th check waited for the guard's delay")
warn = notices(inst, "admin_guessing", "owner@example.org")
t.eq(len(warn), 1, "owners told about the wrong passwords")
t.ok(warn and "Nothing is locked" in body_text(warn[0]["msg"]), "the notice says nothing is locked")
r, text = ctl(f"admin pass {PW}\nadmin add z@example.net")
t.ok("Authenticated" in text and "locked" not in text and "z@example.net" in inst.check("members", "team"),
     "the right password still works after them (no lockout)", text)
log = inst.log()
t.ok("wrong-" not in log and PW not in log, "no password (right or wrong) in the log")
t.ok(b"wrong-4" not in everything_written() and PW.encode() not in everything_written(),
     "no password in queue files")

# --- per-member moderation: new_member_moderation, admin (un)moderate -----
inst.config("team", "new_member_moderation", "yes")
inst.config("team", "post_policy", "members")
inst.subscribe("team", "newbie@example.net")
t.ok("newbie@example.net moderated" in inst.check("members", "team", "--verbose"),
     "new_member_moderation = yes: a new member is moderated", inst.check("members", "team", "--verbose"))
nums = inst.archive_numbers("team")
inst.deliver("team", make_msg(subject="first post of a newbie", frm="newbie@example.net"), sender="newbie@example.net")
t.ok(inst.archive_numbers("team") == nums and "first post of a newbie" in inst.check("held", "team"),
     "a moderated member's post is held")
inst.deliver("team", make_msg(subject="old hand", frm="fml@example.net"), sender="fml@example.net")
t.eq(len(inst.archive_numbers("team")), len(nums) + 1, "a member from before is not moderated")
r, text = ctl(f"admin pass {PW}\nadmin unmoderate newbie@example.net\nadmin moderate fml@example.net\n"
              "admin moderate nobody@example.net\n")
t.ok("no longer held" in text and "held for a moderator from now on" in text and "is not a member" in text,
     "admin unmoderate / moderate answer, a non-member is said so", text)
inst.deliver("team", make_msg(subject="second post of a newbie", frm="newbie@example.net"), sender="newbie@example.net")
t.eq(len(inst.archive_numbers("team")), len(nums) + 2, "after admin unmoderate the member posts freely")
inst.deliver("team", make_msg(subject="now moderated", frm="fml@example.net"), sender="fml@example.net")
t.ok("now moderated" in inst.check("held", "team"), "after admin moderate the member's posts are held")
inst.deliver("team", make_msg(subject="from the owner", frm="owner@example.org"), sender="owner@example.org")
t.eq(len(inst.archive_numbers("team")), len(nums) + 3, "moderators are never held by the flag")
inst.config("team", "new_member_moderation", "no")
inst.check("held", "team")
for hid in re.findall(r"^([0-9a-f]{8})\s", inst.check("held", "team"), re.M):
    inst.check("reject", "team", hid, "--quiet")

# --- admin passwd ------------------------------------------------------------
NEW = "An0ther-Secret-Pw"
r, text = ctl(f"admin pass {PW}\nadmin passwd {NEW}\n")
t.ok("owner password was changed" in text and NEW not in text, "admin passwd changed it, masked", text)
r, text = ctl(f"admin pass {NEW}\nadmin members\n")
t.ok("Authenticated" in text and "z@example.net" in text, "new password works")
t.ok(NEW.encode() not in everything_written(), "new password not in queue or log")

t.done()
