"""test_relay_tls.py - STARTTLS with a self-signed certificate (made
with openssl req) and AUTH PLAIN/LOGIN: AUTH is offered only after
STARTTLS; the list owner (user LIST) and a member (user ADDRESS/LIST,
POP3 password) may relay from outside mynetworks after AUTH; a wrong
password is refused 535; and the relay's own client uses STARTTLS when
the next hop (a second kairan relay) offers it."""
import base64
import smtplib
import ssl
import subprocess

from kt import *

t = Tap()
if not which("smtp-sink"):
    t.skip_all("smtp-sink (postfix) not installed")

inst = Instance()
inst.newlist("team", password="owner-secret")
inst.subscribe("team", "member@example.org")
inst.run("passwd", "team", "member@example.org", stdin=b"pop-secret\n")
cert, key = inst.path("cert.pem"), inst.path("key.pem")
r = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "1", "-subj", f"/CN={DOMAIN}"], capture_output=True)
if r.returncode != 0:
    t.skip_all("openssl req failed: " + r.stderr.decode())
sink = Sink()
relay = relay2 = None
try:
    relay = Relay(inst, conf={"tls_cert": cert, "tls_key": key, "mynetworks": "10.0.0.0/8",
                              "relay_members": "yes",   # a member's login relays (default no)
                              "routes": f"example.test=[127.0.0.1]:{sink.port}"})
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE

    s = smtplib.SMTP("127.0.0.1", relay.port, timeout=30)
    code, caps = s.ehlo("client.example.net")
    t.ok(b"STARTTLS" in caps and b"AUTH" not in caps, "STARTTLS offered, AUTH not before TLS", caps)
    code, msg = s.docmd("AUTH", "PLAIN " + base64.b64encode(b"\0team\0owner-secret").decode())
    t.eq(code, 538, "AUTH before STARTTLS refused (538 5.7.11)")
    code, msg = s.starttls(context=ctx)
    t.eq(code, 220, "STARTTLS: 220")
    t.ok(s.sock.version() in ("TLSv1.2", "TLSv1.3"), f"TLS session up ({s.sock.version()})")
    code, caps = s.ehlo("client.example.net")
    t.ok(b"AUTH PLAIN LOGIN" in caps and b"STARTTLS" not in caps, "after TLS: AUTH PLAIN LOGIN offered", caps)
    s.mail("owner@example.net")
    code, msg = s.rcpt("victim@example.test")
    t.ok(code == 550 and b"5.7.1" in msg, "no relaying before AUTH even with TLS", msg)
    s.rset()
    try:
        s.login("team", "wrong")
        t.ok(False, "wrong password refused")
    except smtplib.SMTPAuthenticationError as e:
        t.eq(e.smtp_code, 535, "wrong password refused with 535")
    s.login("team", "owner-secret")            # smtplib picks PLAIN... or LOGIN
    t.ok(True, "owner authenticated as LIST")
    t.eq(s.sendmail("owner@example.net", ["friend@example.test"], make_msg(subject="authed")), {},
         "authenticated client may relay")
    t.ok(sink.wait_recipients(1), "relayed mail arrived")
    s.quit()

    s = smtplib.SMTP("127.0.0.1", relay.port, timeout=30)
    s.starttls(context=ctx)
    s.ehlo("client.example.net")
    code, msg = s.docmd("AUTH LOGIN")
    code, msg = s.docmd(base64.b64encode(b"member@example.org/team").decode())
    code, msg = s.docmd(base64.b64encode(b"pop-secret").decode())
    t.eq(code, 235, "member authenticated with AUTH LOGIN as ADDRESS/LIST")
    t.eq(s.sendmail("member@example.org", ["pal@example.test"], make_msg()), {}, "member may relay")
    t.ok(sink.wait_recipients(2), "member's relayed mail arrived")
    s.quit()
    t.ok("owner-secret" not in inst.log() and "pop-secret" not in inst.log(), "passwords never in the log")

    # the relay's client side: opportunistic STARTTLS to a next hop offering it
    inst2 = Instance(domain="hop.example.test")
    relay2 = Relay(inst2, conf={"tls_cert": cert, "tls_key": key, "retry_min": "1h",
                                "routes": f"example.test=[127.0.0.1]:{sink.port}"})
    relay.stop()
    set_global(inst, routes=f"example.net=[127.0.0.1]:{relay2.port}", mynetworks="127.0.0.0/8")
    relay.start()
    s = smtplib.SMTP("127.0.0.1", relay.port, timeout=30)
    s.sendmail("member@example.org", ["x@example.net"], make_msg())
    s.quit()
    log2 = lambda: open(inst2.path("log", "kairan.log")).read()
    t.ok(wait_for(lambda: "client=127.0.0.1" in log2(), 10), "next hop reached", log2())
    t.ok("tls=TLSv1" in log2(), "our client used STARTTLS to the next hop", log2())
finally:
    for rl in (relay, relay2):
        if rl:
            rl.stop()
    sink.cleanup()
t.done()
