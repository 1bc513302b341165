"""test_relay_faults.py - the queue runner against misbehaving receivers
(real smtp-sink with its fault options): a 4xx reply then 2xx (retried
after the back-off), a 5xx reply (an RFC 3464 bounce queued to the
envelope sender, parsed here as multipart/report), a receiver that drops
the connection after the message data (retried), `kairan flush`, and the
null sender getting no bounce.  Bounces are DKIM-signed (checked with
dkimpy against the record `kairan dkim-keygen` prints)."""
import email
import email.policy
import re
import smtplib
import time

from kt import *

t = Tap()
if not which("smtp-sink"):
    t.skip_all("smtp-sink (postfix) not installed")

inst = Instance()
keygen = inst.run("dkim-keygen", DOMAIN, "--selector", "dsn", "--enable")
dkim_name, dkim_value = dkim_record(keygen.stdout)
good = Sink()                 # example.org: where senders' bounces go
bad = Sink(extra=["-r", "RCPT"])   # example.test: 4xx for every RCPT at first
relay = None
sinks = [good, bad]


def send(sender, rcpts, subject):
    s = smtplib.SMTP("127.0.0.1", relay.port, timeout=30)
    s.sendmail(sender, rcpts, make_msg(subject=subject))
    s.quit()


try:
    relay = Relay(inst, conf={
        "routes": f"example.test=[127.0.0.1]:{bad.port};example.org=[127.0.0.1]:{good.port}",
        "retry_min": "1", "retry_max": "2"})

    # 1. 4xx, then the receiver recovers: delivered by a retry
    send("sender@example.org", ["soft@example.test"], "soft failure")
    t.ok(wait_for(lambda: "to=<soft@example.test>" in inst.log() and "status=deferred" in inst.log(), 10),
         "4xx reply: recipient deferred", inst.log()[-2000:])
    q = inst.check("queue")
    t.ok("soft@example.test" in q and "next try" in q and "said: 4" in q and "1 Request" in q,
         "kairan queue lists the deferred recipient with its error and next try", q)
    port = bad.port
    bad.cleanup()
    sinks.remove(bad)
    bad = Sink(port=port)
    sinks.append(bad)
    t.ok(bad.wait_recipients(1, 15), "after the back-off the retry is delivered (2xx)", inst.log()[-1500:])
    t.ok(wait_for(lambda: "Mail queue is empty" in inst.check("queue"), 10), "queue empty after the retry")

    # 2. the receiver drops the connection after the final dot: retried
    bad.cleanup()
    sinks.remove(bad)
    bad = Sink(port=port, extra=["-q", "."])
    sinks.append(bad)
    send("sender@example.org", ["dropped@example.test"], "dropped")
    t.ok(wait_for(lambda: "lost connection" in inst.log(), 10), "dropped connection: deferred as lost connection",
         inst.log()[-1500:])
    bad.cleanup()
    sinks.remove(bad)
    bad = Sink(port=port)
    sinks.append(bad)
    t.ok(bad.wait_recipients(1, 10), "the dropped message is delivered by a retry")
    t.ok(wait_for(lambda: "Mail queue is empty" in inst.check("queue"), 10), "queue empty again")

    # 3. 5xx: bounce to the envelope sender as an RFC 3464 report
    bad.cleanup()
    sinks.remove(bad)
    bad = Sink(port=port, extra=["-f", "RCPT"])
    sinks.append(bad)
    before = len(good.transactions())
    send("sender@example.org", ["hard@example.test"], "hard failure")
    t.ok(wait_for(lambda: len(good.transactions()) > before, 15), "a bounce reached the sender's server",
         inst.log()[-1500:])
    bounces = [(snd, rs, m) for snd, rs, m in good.transactions() if "<sender@example.org>" in rs]
    t.ok(bounces, "bounce addressed to the envelope sender")
    if bounces:
        snd, rs, raw = bounces[-1]
        t.eq(snd, "<>", "bounce sent with the null sender")
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        t.eq(msg.get_content_type(), "multipart/report", "bounce is multipart/report")
        t.eq(msg.get_param("report-type"), "delivery-status", "report-type=delivery-status")
        parts = list(msg.iter_parts())
        t.eq([p.get_content_type() for p in parts],
             ["text/plain", "message/delivery-status", "text/rfc822-headers"], "the three parts of RFC 3464")
        ds = parts[1].as_string() if len(parts) > 1 else ""
        t.ok("Final-Recipient: rfc822; hard@example.test" in ds and "Action: failed" in ds
             and "Status: 5." in ds, "delivery-status names the recipient, Action: failed, Status 5.x.x", ds)
        t.ok("Subject: hard failure" in (parts[2].get_content() if len(parts) > 2 else ""),
             "original headers included")
        t.ok("status=bounced" in inst.log(), "log line status=bounced")
        head = raw.replace(b"\r\n", b"\n").split(b"\n\n")[0]
        t.ok(b"\nDKIM-Signature:" in head and f"d={DOMAIN};".encode() in head,
             "the bounce is DKIM-signed with the instance's key", raw[:300])
        ok = dkimpy_verify(raw, {dkim_name: dkim_value})
        if ok is None:
            t.skip("the bounce's signature verifies", "dkimpy (python3-dkim) is not installed")
        else:
            t.ok(ok, "the bounce's signature verifies (dkimpy)")
    t.ok(wait_for(lambda: "Mail queue is empty" in inst.check("queue"), 10), "queue empty after the bounce")

    # 4. the null sender gets no bounce
    before = len(good.transactions())
    send("", ["hard2@example.test"], "null sender")
    t.ok(wait_for(lambda: "no bounce for the null sender" in inst.log(), 10), "no bounce for a null sender")
    time.sleep(0.5)
    t.eq(len(good.transactions()), before, "nothing sent back for the null sender")

    # 5. a member's server refuses (5xx): the bounce goes to LIST-admin, which
    #    the runner hands to `kairan deliver --admin` itself (relay=local)
    inst.newlist("team")
    inst.subscribe("team", "gone@example.test", "sender@example.org")
    r = inst.deliver("team", make_msg(subject="to a list", to=f"team@{DOMAIN}"), sender="sender@example.org")
    t.eq(r.returncode, 0, "post to a list with a member whose server refuses")
    t.ok(wait_for(lambda: re.search(rf"to=<team-admin@{re.escape(DOMAIN)}>, relay=local", inst.log()), 15),
         "the bounce for LIST-admin is delivered locally through kairan deliver --admin", inst.log()[-1500:])
    # it returns the post's header, so it matches what was sent and counts (sec-mget)
    def gone_score():
        import sqlite3
        db = sqlite3.connect(inst.path("kairan.db"), timeout=30)
        try:
            return db.execute("SELECT bounce_score FROM members WHERE list='team' AND address='gone@example.test'"
                              ).fetchone()[0]
        finally:
            db.close()
    t.ok(wait_for(lambda: gone_score() == 1, 15), "the relay's own bounce counts for the member (it matches the post)",
         inst.log()[-1500:])

    # 6. `kairan flush` retries at once, long before the back-off is over
    relay.stop()
    set_global(inst, retry_min="1h", retry_max="2h")
    relay.start()
    bad.cleanup()
    sinks.remove(bad)
    bad = Sink(port=port, extra=["-r", "RCPT"])
    sinks.append(bad)
    send("sender@example.org", ["later@example.test"], "flush me")
    t.ok(wait_for(lambda: "to=<later@example.test>" in inst.log() and "status=deferred" in inst.log(), 10),
         "deferred with a one-hour back-off")
    bad.cleanup()
    sinks.remove(bad)
    bad = Sink(port=port)
    sinks.append(bad)
    time.sleep(1.5)
    t.eq(len(bad.recipients()), 0, "nothing retried before the back-off")
    t0 = time.time()
    r = inst.run("flush")
    t.ok(r.returncode == 0 and bad.wait_recipients(1, 5), f"kairan flush: delivered at once ({time.time() - t0:.2f}s)")
finally:
    if relay:
        relay.stop()
    for s in sinks:
        s.cleanup()
t.done()
