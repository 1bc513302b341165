"""test_relay_dsn.py - the DSN extension (RFC 3461/3464) of `kairan
relay`: DSN in EHLO; malformed RET/ENVID/NOTIFY/ORCPT answered 501 (an
unknown parameter 555) and the session goes on; the parameters are kept
in the queue and passed on to a next hop that offers DSN (smtp-sink's
X-Mail-Args/X-Rcpt-Args show them) and not to one that does not (smtp-sink
-N), which instead gets a "relayed" report for NOTIFY=SUCCESS; a
failure report honours NOTIFY (NEVER: none) and carries
Original-Envelope-Id, Original-Recipient and, with RET=FULL, the whole
message; a delay warning goes out once per message after
delay_warning_time (here 2 s), only for recipients whose NOTIFY allows
DELAY.  Every report is read where a user would: in the sender's mailbox
(an smtp-sink the sender's domain is routed to)."""
import smtplib
import time

from kt import *

t = Tap()
if not which("smtp-sink"):
    t.skip_all("smtp-sink (postfix) not installed")

inst = Instance()
home, dsn_sink, nodsn, bad = Sink(), Sink(), Sink(extra=["-N"]), Sink(extra=["-f", "RCPT"])
dead = free_port()
relay = None


def reports(kind=None):
    """Reports in the sender's mailbox: (raw message) with Action kind."""
    out = []
    for snd, rs, m in home.transactions():
        if snd not in ("<>", "") or b"multipart/report" not in m:
            continue
        if kind is None or f"Action: {kind}".encode() in m:
            out.append(m)
    return out


def send(mail_opts, rcpts, subject):
    s = smtplib.SMTP("127.0.0.1", relay.port, timeout=30)
    s.ehlo("client.home.test")
    code, msg = s.mail("sender@home.test", mail_opts)
    assert code == 250, (code, msg)
    for addr, opts in rcpts:
        code, msg = s.rcpt(addr, opts)
        assert code == 250, (addr, code, msg)
    code, msg = s.data(make_msg(subject=subject, frm="sender@home.test", to="x@dsn.test",
                                body=f"the body of {subject}\n"))
    s.quit()
    return code


try:
    relay = Relay(inst, conf={
        "routes": f"home.test=[127.0.0.1]:{home.port};dsn.test=[127.0.0.1]:{dsn_sink.port};"
                  f"nodsn.test=[127.0.0.1]:{nodsn.port};bad.test=[127.0.0.1]:{bad.port};"
                  f"slow.test=[127.0.0.1]:{dead}",
        "retry_min": "1", "retry_max": "1", "delay_warning_time": "2"})

    # 1. EHLO and malformed parameters
    s = smtplib.SMTP("127.0.0.1", relay.port, timeout=30)
    code, caps = s.ehlo("client.home.test")
    t.ok(b"\nDSN" in caps or caps.startswith(b"DSN"), "EHLO offers DSN", caps)
    bad_mail = ["RET=BOGUS", "RET=", "ENVID=a=b", "ENVID=" + "x" * 101, "ENVID=a+zz", "ENVID=a+2b"]
    for p in bad_mail:
        code, msg = s.docmd(f"MAIL FROM:<sender@home.test> {p}")
        t.ok(code == 501 and msg.startswith(b"5.5.4"), f"MAIL {p[:20]}: 501 5.5.4", (code, msg))
    code, msg = s.docmd("MAIL FROM:<sender@home.test> RET=FULL RET=HDRS")
    t.eq(code, 501, "RET given twice: 501")
    code, msg = s.docmd("MAIL FROM:<sender@home.test> RET=hdrs ENVID=ok+2B1")
    t.eq(code, 250, "a good RET (any case) and ENVID: 250")
    bad_rcpt = ["NOTIFY=NEVER,SUCCESS", "NOTIFY=BOGUS", "NOTIFY=", "NOTIFY=SUCCESS,SUCCESS",
                "ORCPT=nosemicolon", "ORCPT=rfc822;a+zz", "ORCPT=;a@b", "ORCPT=rfc822;"]
    for p in bad_rcpt:
        code, msg = s.docmd(f"RCPT TO:<a@dsn.test> {p}")
        t.ok(code == 501 and msg.startswith(b"5.5.4"), f"RCPT {p}: 501 5.5.4", (code, msg))
    code, msg = s.docmd("RCPT TO:<a@dsn.test> NOTIFY=SUCCESS NOTIFY=FAILURE")
    t.eq(code, 501, "NOTIFY given twice: 501")
    code, msg = s.docmd("RCPT TO:<a@dsn.test> FOO=1")
    t.eq(code, 555, "an unknown RCPT parameter: 555")
    code, msg = s.docmd("RCPT TO:<a@dsn.test> notify=failure,delay ORCPT=rfc822;a@dsn.test")
    t.eq(code, 250, "good NOTIFY and ORCPT after the errors: 250 (the session goes on)")
    s.rset()
    s.quit()

    # 2. passed on to a hop with DSN; "relayed" for one without
    code = send(["RET=HDRS", "ENVID=env+2B1"],
                [("a@dsn.test", ["NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;a@dsn.test"]),
                 ("b@nodsn.test", ["NOTIFY=SUCCESS", "ORCPT=rfc822;orig-b@nodsn.test"])], "pass on")
    t.eq(code, 250, "message with DSN parameters accepted")
    t.ok(dsn_sink.wait_recipients(1, 10) and nodsn.wait_recipients(1, 10), "both next hops got it")
    tx = dsn_sink.transactions()[0]
    raw_dump = open(os.path.join(dsn_sink.dir, sorted(os.listdir(dsn_sink.dir))[0]), "rb").read()
    t.ok(b"RET=HDRS" in raw_dump and b"ENVID=env+2B1" in raw_dump, "MAIL parameters passed on to the DSN hop",
         raw_dump[:400])
    t.ok(b"NOTIFY=SUCCESS,FAILURE" in raw_dump and b"ORCPT=rfc822;a@dsn.test" in raw_dump,
         "RCPT parameters passed on to the DSN hop", raw_dump[:400])
    raw_nodsn = open(os.path.join(nodsn.dir, sorted(os.listdir(nodsn.dir))[0]), "rb").read()
    t.ok(b"NOTIFY=" not in raw_nodsn and b"ENVID=" not in raw_nodsn, "nothing passed to a hop without DSN",
         raw_nodsn[:400])
    t.ok(wait_for(lambda: reports("relayed"), 10), "a 'relayed' report for the hop without DSN")
    rep = reports("relayed")[0] if reports("relayed") else b""
    t.ok(b"Final-Recipient: rfc822; b@nodsn.test" in rep and b"Original-Recipient: rfc822; orig-b@nodsn.test" in rep,
         "... naming the final and the original recipient", rep[-1500:])
    t.ok(b"Original-Envelope-Id: env+1" in rep, "... and the decoded ENVID", rep[-1500:])
    t.ok(b"Subject: Successful Mail Delivery Report" in rep, "... with a plain subject")
    time.sleep(1)
    t.eq(len([r for r in reports() if b"a@dsn.test" in r]), 0, "no report for the recipient passed on with DSN")

    # 3. failures honour NOTIFY; RET=FULL returns the message
    code = send(["RET=FULL", "ENVID=fail1"],
                [("c@bad.test", ["NOTIFY=NEVER"]),
                 ("d@bad.test", ["NOTIFY=FAILURE", "ORCPT=rfc822;orig+2Bd@bad.test"]),
                 ("e@bad.test", ["NOTIFY=SUCCESS"])], "failing")
    t.eq(code, 250, "message to a refusing hop accepted")
    t.ok(wait_for(lambda: reports("failed"), 10), "a failure report arrives")
    time.sleep(1)
    fails = reports("failed")
    t.eq(len(fails), 1, "one failure report")
    f = fails[0] if fails else b""
    t.ok(b"Final-Recipient: rfc822; d@bad.test" in f, "it names d (NOTIFY=FAILURE)")
    t.ok(b"c@bad.test" not in f and b"e@bad.test" not in f, "not c (NOTIFY=NEVER) nor e (NOTIFY=SUCCESS)", f[-2000:])
    t.ok(b"Original-Recipient: rfc822; orig+d@bad.test" in f, "ORCPT decoded as Original-Recipient")
    t.ok(b"Original-Envelope-Id: fail1" in f, "ENVID as Original-Envelope-Id")
    t.ok(b"message/rfc822" in f and b"the body of failing" in f, "RET=FULL: the whole message comes back")
    t.ok("no non-delivery notification (NOTIFY=NEVER)" in inst.log(), "the suppressed report is logged")
    code = send(["RET=HDRS"], [("g@bad.test", [])], "headers only")
    t.ok(wait_for(lambda: len(reports("failed")) >= 2, 10), "RET=HDRS failure report arrives")
    g = [r for r in reports("failed") if b"g@bad.test" in r]
    t.ok(g and b"text/rfc822-headers" in g[0] and b"the body of headers only" not in g[0],
         "RET=HDRS (and no NOTIFY: FAILURE by default): headers only", g[0][-1500:] if g else None)

    # 4. one delay warning per message, after delay_warning_time
    code = send([], [("w1@slow.test", []), ("w2@slow.test", ["NOTIFY=FAILURE"])], "slow one")
    t.eq(code, 250, "message to an unreachable host accepted")
    t.ok(wait_for(lambda: reports("delayed"), 15), "a delay warning arrives after delay_warning_time")
    time.sleep(5)     # several more retries (retry_min 1 s)
    delays = reports("delayed")
    t.eq(len(delays), 1, "exactly one delay warning for the message despite the retries")
    dw = delays[0] if delays else b""
    t.ok(b"Final-Recipient: rfc822; w1@slow.test" in dw and b"w2@slow.test" not in dw,
         "it names w1 (default NOTIFY) but not w2 (NOTIFY=FAILURE)", dw[-1500:])
    t.ok(b"Will-Retry-Until:" in dw and b"Subject: Delayed Mail (still being retried)" in dw,
         "Will-Retry-Until and a subject saying it is still retried")
    t.ok("w1@slow.test" in inst.check("queue"), "the message stays queued")
    # the warning survives a restart (journal W line)
    relay.stop()
    relay.start()
    time.sleep(4)
    t.eq(len(reports("delayed")), 1, "no second warning after a relay restart")
finally:
    if relay:
        relay.stop()
    for s in (home, dsn_sink, nodsn, bad):
        s.cleanup()
t.done()
