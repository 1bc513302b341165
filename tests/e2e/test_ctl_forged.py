"""test_ctl_forged.py - security issue #12 (findings 1 and 12): a command
mail whose From: is a member's address, sent by anybody, takes over
nothing.  A forged `password evil` sets no password (POP3 through a real
`kairan pop3d`, the web login through cgi/kairan.cgi and SMTP AUTH through
a real `kairan relay` all refuse it); the member alone gets a single-use
confirmation, and following it (a `confirm` reply: a random password
mailed to the member only; or the web link: a password of one's own)
gives a password that works.  Forged digest/nomail/mail/bye/chaddr change
nothing until the member's own address confirms.  A member's login does
not allow relaying unless [global] relay_members = yes."""
import email.utils
import poplib
import re
import smtplib
import sqlite3
import ssl

from kt import *

t = Tap()
VICTIM = "member@example.org"
ATTACKER = "mallory@evil.example"
EVIL = "evil-pass-1"

inst = Instance()
inst.newlist("team", owner="owner@example.org", password="owner-secret-1")
inst.subscribe("team", VICTIM)
# this test sends many requests to one address within the hour
inst.config("team", "confirm_limit", "100")
inst.config("team", "ctl_reply_limit", "100")
set_global(inst, pop3_login_delay="0")


def forged(body, frm=VICTIM, sender=ATTACKER, subject=""):
    """A command mail with From: frm, envelope sender `sender`."""
    inst.clear_queue()
    return inst.deliver("team", ctl_mail(body=body, subject=subject, frm=frm), sender=sender, mode="--ctl")


def reply_text(addr=VICTIM):
    rs = notices(inst, "ctl_reply", addr)
    return body_text(rs[0]["msg"]) if rs else ""


def token_of(kind, addr=VICTIM):
    ms = notices(inst, kind, addr)
    if not ms:
        return None
    m = re.search(r"confirm ([0-9a-f]{32})", str(ms[0]["msg"]["Subject"]))
    return m.group(1) if m else None


def all_rcpts():
    return sorted({r for q in inst.queue() for r in q["rcpts"]})


def member_row(addr=VICTIM):
    db = sqlite3.connect(inst.path("kairan.db"))
    row = db.execute("SELECT digest, nomail, pop_password FROM members WHERE list='team' AND address=?",
                     (addr,)).fetchone()
    db.close()
    return row


def pop_login(port, user, password):
    p = poplib.POP3("127.0.0.1", port, timeout=20)
    try:
        p.user(user)
        p.pass_(password)
        p.quit()
        return True
    except poplib.error_proto:
        try:
            p.quit()
        except Exception:
            pass
        return False


def web_login(address, password):
    return WebClient(inst, cgi=True).login("team", address, password).status == 303


cert, key = self_signed_cert(inst.home, cn=DOMAIN)
TLS = ssl.create_default_context()
TLS.check_hostname = False
TLS.verify_mode = ssl.CERT_NONE


def routes(sink):
    """Every domain of this test to the sink: no mail leaves, none bounces."""
    return ";".join(f"{d}=[127.0.0.1]:{sink.port}"
                    for d in ("example.test", "example.org", "example.net", "evil.example", "example.jp"))


def sunk(sink):
    """The recipients the sink got, without angle brackets."""
    return [r.strip("<>") for r in sink.recipients()]


def smtp_relay(port, user, password, rcpt="friend@example.test"):
    """(AUTH code, RCPT code, RCPT text, sendmail ok) through the relay,
    from a client outside mynetworks."""
    s = smtplib.SMTP("127.0.0.1", port, timeout=30)
    try:
        s.starttls(context=TLS)
        s.ehlo("client.example.net")
        try:
            s.login(user, password)
            auth = 235
        except smtplib.SMTPAuthenticationError as e:
            auth = e.smtp_code
        s.mail(VICTIM)
        code, msg = s.rcpt(rcpt)
        sent = False
        if code == 250:
            code2, _ = s.data(make_msg(subject="relayed", to=rcpt))
            sent = code2 == 250
        s.quit()
        return auth, code, msg.decode(errors="replace"), sent
    finally:
        s.close()


# (the relay, whose queue runner would take the queued mails away from
# this test's eyes, runs only in the relaying part below)
with Pop3d(inst) as pop:
    # --- the forged `password` -------------------------------------------
    r = forged(f"password {EVIL}\n")
    t.eq(r.returncode, 0, "forged `password NEW` command mail accepted (exit 0)")
    t.ok(not member_row()[2], "no POP3 password stored by the forged mail", member_row())
    t.ok(not pop_login(pop.port, f"{VICTIM}/team", EVIL), "POP3 login with the forged password fails")
    t.ok(not web_login(VICTIM, EVIL), "web login with the forged password fails")
    t.ok(ATTACKER not in all_rcpts() and all_rcpts() == [VICTIM],
         "every mail kairan wrote goes to the member, none to the forger", all_rcpts())
    text = reply_text()
    t.ok("never taken from a mail" in text and EVIL not in text, "the reply says a password is never taken "
         "from a mail (and does not echo it)", text)
    req = notices(inst, "password_request", VICTIM)
    t.ok(len(req) == 1 and req[0]["rcpts"] == [VICTIM], "one single-use password mail to the member only")
    t.ok(all(EVIL.encode() not in q["raw"] for q in inst.queue()) and EVIL not in inst.log(),
         "the forged password is in no queued mail and not in the log")
    tok = token_of("password_request")
    t.ok(tok is not None, "the password mail carries a `confirm TOKEN`")
    t.ok(req and "/password/" not in body_text(req[0]["msg"]),
         "without web_url the mail offers no web link")

    # the forger's SMTP AUTH right away (a relay drains the queue: the
    # mails above were looked at first)
    sink = Sink()
    inst.clear_queue()
    try:
        relay = Relay(inst, conf={"tls_cert": cert, "tls_key": key, "mynetworks": "10.0.0.0/8",
                                  "routes": routes(sink)})
        auth, code, msg, sent = smtp_relay(relay.port, f"{VICTIM}/team", EVIL)
        relay.stop()
    finally:
        sink.cleanup()
    t.ok(auth == 535 and code == 550 and not sent,
         "SMTP AUTH with the forged password refused (535), relaying denied", (auth, code, msg))

    # a forger cannot use a made-up token
    forged("confirm " + "0" * 32 + "\n")
    t.ok(not member_row()[2] and not notices(inst, "password_new"), "a made-up token sets nothing")

    # --- the member follows the mail: a fresh password, mailed to it only --
    inst.clear_queue()
    inst.deliver("team", ctl_mail(subject=f"Re: confirm {tok}", frm=VICTIM),
                 sender=VICTIM, mode="--ctl")
    new = notices(inst, "password_new")
    t.ok(len(new) == 1 and new[0]["rcpts"] == [VICTIM], "the new password is mailed to the member only",
         [q["rcpts"] for q in new])
    m = re.search(r"^  ([a-z2-9]{16})$", body_text(new[0]["msg"]), re.M) if new else None
    t.ok(m is not None, "the mail holds the new password")
    newpw = m.group(1) if m else "-"
    t.ok("new POP3 password was set and mailed" in reply_text() and newpw not in reply_text(),
         "the confirm reply says so without the password", reply_text())
    t.ok(newpw not in inst.log(), "the new password is not in the log")
    t.ok(pop_login(pop.port, f"{VICTIM}/team", newpw), "POP3 login with the mailed password works")
    t.ok(web_login(VICTIM, newpw), "web login with the mailed password works")
    t.ok(not pop_login(pop.port, f"{VICTIM}/team", EVIL), "the forged password still fails")
    inst.clear_queue()
    inst.deliver("team", ctl_mail(body=f"confirm {tok}\n", frm=VICTIM), sender=VICTIM, mode="--ctl")
    t.ok(not notices(inst, "password_new") and "already used" in reply_text()
         and pop_login(pop.port, f"{VICTIM}/team", newpw), "the token works once; the password stays")

    # a confirm sent by somebody else still mails the password to the member
    forged("password\n")
    tok2 = token_of("password_request")
    inst.clear_queue()
    inst.deliver("team", ctl_mail(body=f"confirm {tok2}\n", frm=ATTACKER), sender=ATTACKER, mode="--ctl")
    new = notices(inst, "password_new")
    m = re.search(r"^  ([a-z2-9]{16})$", body_text(new[0]["msg"]), re.M) if new else None
    t.ok(tok2 and m and new[0]["rcpts"] == [VICTIM] and len(new) == 1 and
         not any(m.group(1).encode() in q["raw"] for q in inst.queue() if ATTACKER in q["rcpts"]),
         "whoever sends the confirm, the password goes to the member's address only")
    newpw = m.group(1) if m else newpw

    # --- with web_url: the link lets the member choose a password ---------
    set_global(inst, web_url="http://lists.example.test/")
    forged("passwd another-evil\n")
    req = notices(inst, "password_request", VICTIM)
    link = re.search(r"http://lists\.example\.test/password/([0-9a-f]{32})", body_text(req[0]["msg"])) if req else None
    t.ok(link is not None, "with web_url the mail carries the set-password link too")
    t.ok(pop_login(pop.port, f"{VICTIM}/team", newpw) and not pop_login(pop.port, f"{VICTIM}/team", "another-evil"),
         "`passwd NEW` by mail changes nothing either")
    if link:
        c = WebClient(inst, cgi=True)
        r = c.form_post("/password/" + link.group(1), data={"password": "chosen-pass-9", "password2": "chosen-pass-9"})
        t.ok(r.status == 200 and "password is set" in r.text, "the link's page sets a password of one's own", r.status)
    else:
        t.ok(False, "the link's page sets a password of one's own")
    t.ok(pop_login(pop.port, f"{VICTIM}/team", "chosen-pass-9"), "POP3 login with the chosen password works")
    set_global(inst, web_url="")

# --- relaying: a member's login is no right to relay by default -------------
# (the member's password set with the admin CLI, so that this part stands on its own)
inst.check("passwd", "team", VICTIM, stdin=b"relay-pass-1\n")
sink = Sink()
relay = None
inst.clear_queue()
try:
    relay = Relay(inst, conf={"tls_cert": cert, "tls_key": key, "mynetworks": "10.0.0.0/8",
                              "routes": routes(sink)})
    auth, code, msg, sent = smtp_relay(relay.port, f"{VICTIM}/team", EVIL)
    t.ok(auth == 535 and not sent, "the forged password still gets 535 later", (auth, code, msg))
    auth, code, msg, sent = smtp_relay(relay.port, f"{VICTIM}/team", "relay-pass-1", rcpt="blocked@example.test")
    t.ok(auth == 235 and code == 550 and "5.7.1" in msg and "member" in msg and not sent,
         "relay_members = no (default): member AUTH gives no relaying (550 5.7.1, says why)", (auth, code, msg))
    auth, code, msg, sent = smtp_relay(relay.port, f"{VICTIM}/team", "relay-pass-1", rcpt=f"team@{DOMAIN}")
    t.ok(code == 250 and sent, "the member may still post to the list itself", (code, msg))
    auth, code, msg, sent = smtp_relay(relay.port, "team", "owner-secret-1")
    t.ok(auth == 235 and code == 250 and sent, "the list owner's login still relays", (auth, code, msg))
    t.ok(wait_for(lambda: "friend@example.test" in sunk(sink)), "the owner's relayed mail arrived")
    relay.stop()
    set_global(inst, relay_members="yes")
    relay.start()
    auth, code, msg, sent = smtp_relay(relay.port, f"{VICTIM}/team", "relay-pass-1", rcpt="pal@example.test")
    t.ok(auth == 235 and code == 250 and sent, "relay_members = yes: the member's login relays again", (auth, code, msg))
    t.ok(wait_for(lambda: "pal@example.test" in sunk(sink)), "the member's relayed mail arrived")
    auth, code, msg, sent = smtp_relay(relay.port, f"{VICTIM}/team", EVIL)
    t.ok(auth == 535 and not sent, "relay_members = yes: the forged password still gets 535", (auth, code))
    t.ok("blocked@example.test" not in sunk(sink), "the refused member relaying reached nobody")
finally:
    if relay:
        relay.stop()
    sink.cleanup()
inst.clear_queue()

# --- forged state changes: nothing until the member confirms ------------------
before = member_row()
for cmd, kind in (("digest on", "confirm_change"), ("nomail", "confirm_change"),
                  ("bye", "confirm_unsubscribe"), (f"chaddr {VICTIM} {ATTACKER}", "confirm_chaddr_old")):
    forged(cmd + "\n")
    row = member_row()
    t.ok(row is not None and row[:2] == before[:2], f"forged `{cmd}` changes nothing", row)
    t.ok(token_of(kind) is not None and all_rcpts() == [VICTIM],
         f"forged `{cmd}`: only a confirmation request to the member", all_rcpts())
t.ok(VICTIM in inst.check("members", "team") and ATTACKER not in inst.check("members", "team"),
     "the member is still subscribed under its own address")
t.ok(member_row(ATTACKER) is None, "chaddr moved nothing to the forger")

# the member confirms digest on and nomail; a forged `mail` then waits too
forged("digest on\n")
tok = token_of("confirm_change")
t.ok(tok and "get digests instead of single posts" in body_text(notices(inst, "confirm_change")[0]["msg"]),
     "the confirmation says what would change")
inst.clear_queue()
inst.deliver("team", ctl_mail(subject=f"Re: confirm {tok}"), sender=VICTIM, mode="--ctl")
t.eq(member_row()[0], 1, "after the member's confirm: digest on")
forged("nomail\n")
tok = token_of("confirm_change")
inst.clear_queue()
inst.deliver("team", ctl_mail(body=f"confirm {tok}\n"), sender=VICTIM, mode="--ctl")
t.eq(member_row()[1], 1, "after the member's confirm: nomail")
forged("mail\ndigest off\n")
t.ok(member_row()[:2] == (1, 1) and len(notices(inst, "confirm_change", VICTIM)) == 2,
     "forged `mail` and `digest off`: nothing changes, two confirmation requests", member_row())
toks = [re.search(r"confirm ([0-9a-f]{32})", str(q["msg"]["Subject"])).group(1)
        for q in notices(inst, "confirm_change", VICTIM)]
inst.clear_queue()
inst.deliver("team", ctl_mail(body="".join(f"confirm {x}\n" for x in toks)), sender=VICTIM, mode="--ctl")
t.ok(member_row()[:2] == (0, 0), "both confirmed: delivery on, digest off", member_row())

# a stranger gets no token for somebody who is not a member
forged("digest on\npassword\n", frm="nobody@example.net", sender="nobody@example.net")
t.ok(not notices(inst, "confirm_change") and not notices(inst, "password_request")
     and "is not a member" in reply_text("nobody@example.net"), "non-members get no confirmation, just the reply")

# a Japanese list speaks Japanese in the new mails
inst.newlist("nihon", owner="owner@example.org")
inst.subscribe("nihon", "hanako@example.jp")
inst.config("nihon", "language", "ja")
inst.clear_queue()
inst.deliver("nihon", ctl_mail(body="password nihon-evil\nnomail\n", frm="hanako@example.jp",
                               to=f"nihon-ctl@{DOMAIN}"), sender=ATTACKER, mode="--ctl")
pj = notices(inst, "password_request", "hanako@example.jp")
cj = notices(inst, "confirm_change", "hanako@example.jp")
rj = notices(inst, "ctl_reply", "hanako@example.jp")
t.ok(pj and "パスワードをメールから受け取ることはありません" in body_text(pj[0]["msg"]) and
     cj and "同意" in body_text(cj[0]["msg"]) and rj and "無視" in body_text(rj[0]["msg"]),
     "ja list: the password mail, the confirmation and the reply are in Japanese")

t.done()
