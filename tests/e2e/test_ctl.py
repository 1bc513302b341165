"""test_ctl.py - command mail to LIST-ctl: subscription with confirmation
(body and "Re: confirm TOKEN" reply), forged/expired/reused tokens, a
Japanese ISO-2022-JP command mail, member commands, chaddr with double
confirmation, no replies to automatic mail, max_commands."""
import re
import sqlite3
from kt import *

t = Tap()
inst = Instance()
inst.newlist("team", owner="owner@example.org")
inst.subscribe("team", "member@example.org")


def ctl(body="", subject="", frm="member@example.org", sender=None, extra="", charset="utf-8"):
    inst.clear_queue()
    raw = ctl_mail(body, subject, frm, extra=extra, charset=charset)
    import email.utils
    r = inst.deliver("team", raw, sender=sender or email.utils.parseaddr(frm)[1], mode="--ctl")
    return r


def reply_to(addr):
    rs = notices(inst, "ctl_reply", addr)
    return rs


def token_from(addr, kind):
    ms = notices(inst, kind, addr)
    if not ms:
        return None
    m = re.search(r"confirm ([0-9a-f]{32})", ms[0]["msg"]["Subject"])
    return m.group(1) if m else None


def members():
    return inst.check("members", "team")


# --- subscribe -> confirm -> member -------------------------------------
r = ctl("subscribe Alice Example", frm="alice@example.net")
t.eq(r.returncode, 0, "subscribe command mail accepted")
rep = reply_to("alice@example.net")
t.eq(len(rep), 1, "exactly one reply to the command mail")
text = body_text(rep[0]["msg"]) if rep else ""
t.ok(">>> subscribe Alice Example" in text and "confirmation request was sent" in text,
     "reply quotes the command and says a confirmation was sent", text)
t.ok(rep and rep[0]["msg"]["Auto-Submitted"] == "auto-replied", "reply is marked Auto-Submitted")
tok = token_from("alice@example.net", "confirm_subscribe")
t.ok(tok is not None, "confirmation mail with a token went to the address")
t.ok("alice@example.net" not in members(), "not a member before confirming")

# forged confirm: a wrong token
ctl("confirm " + "0" * 32, frm="alice@example.net")
text = body_text(reply_to("alice@example.net")[0]["msg"])
t.ok("unknown or invalid" in text and "alice@example.net" not in members(), "wrong token refused", text)
# a token with one character changed
bad = tok[:-1] + ("0" if tok[-1] != "0" else "1")
ctl("confirm " + bad, frm="mallory@example.com")
t.ok("alice@example.net" not in members(), "altered token refused")

ctl("confirm " + tok, frm="alice@example.net")
text = body_text(reply_to("alice@example.net")[0]["msg"])
t.ok("is now a member" in text, "confirm reply says member", text)
t.ok("alice@example.net" in members(), "alice is a member after confirm")
t.ok(len(notices(inst, "welcome", "alice@example.net")) == 1, "welcome mail queued")

# token reuse refused
ctl("confirm " + tok, frm="alice@example.net")
text = body_text(reply_to("alice@example.net")[0]["msg"])
t.ok("already used" in text, "reused token refused", text)

# --- plain reply "Re: confirm TOKEN" (with quoted body) ----------------
ctl("subscribe", frm="bob@example.net")
tok = token_from("bob@example.net", "confirm_subscribe")
conf = notices(inst, "confirm_subscribe", "bob@example.net")[0]["msg"]
t.eq(conf["Reply-To"], f"team-ctl@{DOMAIN}", "confirmation's Reply-To is LIST-ctl")
quoted = "\n".join("> " + l for l in body_text(conf).splitlines())
r = ctl("Thanks!\n\n" + quoted, subject="Re: " + conf["Subject"], frm="Bob <bob@example.net>")
t.ok("bob@example.net" in members(), "a plain reply 'Re: confirm TOKEN' subscribes")

# --- expired token ---------------------------------------------------------
ctl("subscribe", frm="carol@example.net")
tok = token_from("carol@example.net", "confirm_subscribe")
db = sqlite3.connect(inst.path("kairan.db"))
db.execute("UPDATE tokens SET expires = expires - 999999 WHERE token = ?", (tok,))
db.commit()
db.close()
ctl("confirm " + tok, frm="carol@example.net")
text = body_text(reply_to("carol@example.net")[0]["msg"])
t.ok("expired" in text or "invalid" in text, "expired (altered) token refused", text)
t.ok("carol@example.net" not in members(), "carol not subscribed with an expired token")
inst.config("team", "confirm_expiry", "1")
ctl("subscribe", frm="carol@example.net")
tok = token_from("carol@example.net", "confirm_subscribe")
time.sleep(2.1)
ctl("confirm " + tok, frm="carol@example.net")
text = body_text(reply_to("carol@example.net")[0]["msg"])
t.ok("expired" in text and "carol@example.net" not in members(), "token past confirm_expiry refused", text)
inst.config("team", "confirm_expiry", "3d")

# --- a Japanese ISO-2022-JP command mail -----------------------------------
inst.config("team", "language", "ja")
from email.message import EmailMessage
from email.header import Header
m = EmailMessage()
m["From"] = "Taro <taro@example.jp>"
m["To"] = f"team-ctl@{DOMAIN}"
m["Subject"] = Header("登録のお願い", "iso-2022-jp").encode()
m["Message-ID"] = "<jp1@example.jp>"
m.set_content("# subscribe 山田 太郎\n\nよろしくお願いします。\n", charset="iso-2022-jp")
raw = m.as_bytes()
t.ok(b"ESC" not in raw and b"\x1b$B" in raw, "test mail really is ISO-2022-JP")
inst.clear_queue()
r = inst.deliver("team", raw, sender="taro@example.jp", mode="--ctl")
rep = reply_to("taro@example.jp")
t.eq(len(rep), 1, "Japanese command mail got one reply")
text = body_text(rep[0]["msg"]) if rep else ""
t.ok(">>> subscribe 山田 太郎" in text and "確認のメール" in text, "reply in Japanese quotes the decoded command", text)
t.ok(rep and rep[0]["msg"].get_content_charset() == "utf-8", "reply is UTF-8 text/plain")
t.ok(rep and "コマンドの結果" in str(rep[0]["msg"]["Subject"]), "Japanese Subject decodes")
tok = token_from("taro@example.jp", "confirm_subscribe")
ctl("confirm " + tok, frm="taro@example.jp")
db = sqlite3.connect(inst.path("kairan.db"))
name = db.execute("SELECT name FROM members WHERE address='taro@example.jp'").fetchone()
db.close()
t.eq(name and name[0], "山田 太郎", "name from the Japanese subscribe command stored")
inst.config("team", "language", "en")

# Shift_JIS, quoted-printable, and HTML mail with a text alternative
m = EmailMessage()
m["From"] = "hanako@example.jp"
m["To"] = f"team-ctl@{DOMAIN}"
m["Subject"] = "コマンド"
m.set_content("# summary\n以上\nend\n", charset="shift_jis", cte="quoted-printable")
m.add_alternative("<p>summary</p><p>index</p>", subtype="html")
inst.clear_queue()
inst.deliver("team", m.as_bytes(), sender="hanako@example.jp", mode="--ctl")
rep = reply_to("hanako@example.jp")
text = body_text(rep[0]["msg"]) if rep else ""
t.ok(">>> summary" in text and ">>> 以上" in text and ">>> index" not in text,
     "Shift_JIS quoted-printable text alternative of an HTML mail read", text)

# --- member commands --------------------------------------------------------
ctl("status\nsummary\ndigest on\nnomail\npassword secret99\n# mail\nbogus\nend\nhelp\n")
text = body_text(reply_to("member@example.org")[0]["msg"])
t.ok("Address: member@example.org" in text and "Members:" in text, "status and summary answered", text)
t.ok(">>> password ********" in text and "secret99" not in text, "password masked in the reply")
t.ok("Unknown command" in text, "unknown command reported")
t.ok(">>> help" not in text, "processing stopped at end")
# digest, nomail, mail and password only mail a confirmation to the member
# (test_ctl_forged.py has the rest); confirm them all in one reply
toks = [re.search(r"confirm ([0-9a-f]{32})", str(q["msg"]["Subject"])).group(1)
        for q in notices(inst, None, "member@example.org")
        if q["msg"]["X-Kairan-Notice"] in ("confirm_change", "password_request")]
t.eq(len(toks), 4, "digest on, nomail, mail and password: four confirmation requests")
ctl("".join(f"confirm {x}\n" for x in toks))
db = sqlite3.connect(inst.path("kairan.db"))
row = db.execute("SELECT digest, nomail, pop_password FROM members WHERE address='member@example.org'").fetchone()
db.close()
t.ok(row[0] == 1 and row[1] == 0 and row[2], "confirmed: digest on, nomail then mail (with #), POP3 password stored", row)
t.ok("secret99" not in inst.log(), "POP3 password not in the log")
ctl("", subject="help")
text = body_text(reply_to("member@example.org")[0]["msg"])
t.ok("mget RANGE" in text, "help from the Subject")

# members access rule: non-members refused by default
ctl("members", frm="stranger@example.com")
text = body_text(reply_to("stranger@example.com")[0]["msg"])
t.ok("not available" in text and "member@example.org" not in text.split(">>> members")[1], "members refused to non-member", text)
ctl("members")
text = body_text(reply_to("member@example.org")[0]["msg"])
t.ok("alice@example.net" in text, "members answered for a member")
inst.config("team", "commands_access", "anyone")
ctl("members", frm="stranger@example.com")
text = body_text(reply_to("stranger@example.com")[0]["msg"])
t.ok("alice@example.net" in text, "members for anyone when commands_access = anyone")
inst.config("team", "commands_access", "members")

# --- unsubscribe needs confirmation ----------------------------------------
ctl("bye", frm="alice@example.net")
t.ok("alice@example.net" in members(), "bye alone does not remove")
tok = token_from("alice@example.net", "confirm_unsubscribe")
ctl("confirm " + tok, frm="alice@example.net")
t.ok("alice@example.net" not in members(), "unsubscribe confirmed")

# --- chaddr: old, then new address confirm -----------------------------------
ctl("chaddr bob@example.net bob@new.example")
tok1 = token_from("bob@example.net", "confirm_chaddr_old")
t.ok(tok1 is not None, "chaddr: token to the old address")
ctl("confirm " + tok1, frm="bob@example.net")
tok2 = token_from("bob@new.example", "confirm_chaddr_new")
t.ok(tok2 is not None and "bob@example.net" in members(), "chaddr: then a token to the new address, nothing changed yet")
ctl("confirm " + tok2, frm="bob@new.example")
ms = members()
t.ok("bob@new.example" in ms and "bob@example.net" not in ms, "chaddr done after both confirmations", ms)

# --- subscribe policies and forged From --------------------------------------
inst.clear_queue()
raw = ctl_mail("subscribe", frm="victim@example.net")
inst.deliver("team", raw, sender="attacker@example.com", mode="--ctl")
q = inst.queue()
t.ok(all(x["rcpts"] == ["victim@example.net"] for x in q) and token_from("victim@example.net", "confirm_subscribe")
     and "victim@example.net" not in members(), "forged From: the token goes to the From mailbox only, no member yet")
inst.config("team", "subscribe_policy", "approve")
ctl("subscribe", frm="dave@example.net")
tok = token_from("dave@example.net", "confirm_subscribe")
ctl("confirm " + tok, frm="dave@example.net")
text = body_text(reply_to("dave@example.net")[0]["msg"])
t.ok("approval" in text and "dave@example.net" not in members() and
     notices(inst, "approval_request", "owner@example.org"), "approve policy: confirmed, then waits for the owners", text)
inst.config("team", "subscribe_policy", "closed")
ctl("subscribe", frm="erin@example.net")
text = body_text(reply_to("erin@example.net")[0]["msg"])
t.ok("closed" in text and not notices(inst, "confirm_subscribe"), "closed policy refuses subscribe", text)
inst.config("team", "subscribe_policy", "open")
ctl("subscribe", frm="frank@example.net")
t.ok("frank@example.net" in members(), "open policy subscribes at once")
inst.config("team", "subscribe_policy", "confirm")

# --- loops: no reply to automatic mail ------------------------------------
ctl("subscribe", frm="MAILER-DAEMON@example.com")
t.eq(len(inst.queue()), 0, "no reply to MAILER-DAEMON")
ctl("subscribe", frm="x@example.com", extra="Auto-Submitted: auto-replied")
t.eq(len(inst.queue()), 0, "no reply to Auto-Submitted: auto-replied")
ctl("subscribe", frm="x@example.com", extra="Precedence: bulk")
t.eq(len(inst.queue()), 0, "no reply to Precedence: bulk")
inst.clear_queue()
r = inst.deliver("team", ctl_mail("subscribe", frm="x@example.com"), sender=None, mode="--ctl")
t.ok(r.returncode == 0 and len(inst.queue()) == 0, "no reply to the null sender")
t.ok(len(notices(inst, "confirm_subscribe")) == 0, "automatic mail not processed at all")

# --- 10,000 lines cut at max_commands -------------------------------------
body = "".join(f"status {i}\n" for i in range(10000))
start = time.time()
r = ctl(body)
elapsed = time.time() - start
text = body_text(reply_to("member@example.org")[0]["msg"])
t.eq(text.count(">>> "), 20, "10,000-line mail cut at max_commands (20)")
t.ok("first 20 commands" in text, "reply says the rest was ignored")
t.diag(f"10,000-line command mail processed in {elapsed:.2f}s")
inst.config("team", "max_commands", "3")
r = ctl("status\nsummary\nindex\nmembers\nactives\n")
text = body_text(reply_to("member@example.org")[0]["msg"])
t.eq(text.count(">>> "), 3, "max_commands setting respected")

# --- banned addresses (setting banned) ---------------------------------------
inst.config("team", "banned", "*@spam.example ^promo\\+")
ctl("subscribe", frm="eve@spam.example")
rep = reply_to("eve@spam.example")
text = body_text(rep[0]["msg"]) if rep else ""
t.ok("may not subscribe" in text and not notices(inst, "confirm_subscribe", "eve@spam.example")
     and "eve@spam.example" not in members(), "banned by pattern: subscribe refused, no confirmation mailed", text)
ctl("subscribe", frm="PROMO+x@example.net")
t.ok(not notices(inst, "confirm_subscribe"), "banned by ^regex, case-insensitive: no confirmation")
inst.config("team", "banned", "")
ctl("subscribe", frm="late@spam.example")
tok = token_from("late@spam.example", "confirm_subscribe")
inst.config("team", "banned", "*@spam.example")
ctl("confirm " + (tok or ""), frm="late@spam.example")
t.ok(tok and "late@spam.example" not in members(), "a confirmation asked for before the ban no longer subscribes")
r = inst.run("subscribe", "team", "boss@SPAM.example")
t.ok(r.returncode == 65 and b"banned" in r.stderr, "kairan subscribe of a banned address: exit 65 with the reason", r)
r = inst.run("config", "team", "banned", "no-at-sign")
t.ok(r.returncode == 64 and b"neither an address" in r.stderr, "banned: a bad pattern is refused (64)", r)
inst.config("team", "banned", "")

t.done()
