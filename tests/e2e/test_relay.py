"""test_relay.py - `kairan relay` as the only MTA: posts by SMTP (smtplib
and swaks) reach every member in a real smtp-sink; relay control (open
relay attempt 550 5.7.1, unknown list 550 5.1.1); mynetworks relaying;
ESMTP details (VRFY, EXPN, SIZE, line limits, error limit); the queue
runner waking within a second of `deliver`; `kairan queue` afterwards."""
import smtplib
import socket
import subprocess
import time

from kt import *

t = Tap()
if not which("smtp-sink"):
    t.skip_all("smtp-sink (postfix) not installed")

inst = Instance()
inst.newlist("team")
members = [f"user{i:02d}@example.test" for i in range(20)] + ["member@example.org"]
inst.subscribe("team", *members)
sink = Sink()
relay = None
try:
    relay = Relay(inst, conf={
        "routes": f"example.test=[127.0.0.1]:{sink.port};example.org=[127.0.0.1]:{sink.port}",
        "retry_min": "1", "retry_max": "2", "message_size_limit": "200000",
        "smtpd_max_errors": "5"})

    # 1. a post by smtplib reaches every member
    s = smtplib.SMTP("127.0.0.1", relay.port, timeout=30)
    code, caps = s.ehlo("client.example.org")
    t.eq(code, 250, "EHLO answered 250")
    for ext in (b"PIPELINING", b"SIZE 200000", b"8BITMIME", b"ENHANCEDSTATUSCODES"):
        t.ok(ext in caps, f"EHLO offers {ext.decode()}", caps)
    t.ok(b"AUTH" not in caps, "no AUTH offered before STARTTLS", caps)
    refused = s.sendmail("member@example.org", [f"team@{DOMAIN}"], make_msg(subject="by smtplib"))
    t.eq(refused, {}, "post to the list accepted with 250")
    t.ok(sink.wait_recipients(len(members)), "every member got the post in smtp-sink",
         sorted(sink.recipients()))
    got = sorted(r.strip("<>") for r in sink.recipients())
    t.eq(got, sorted(members), "exactly the members, each once")
    msgs = [m for _, _, m in sink.transactions()]
    t.ok(all(b"[team:00001] by smtplib" in m for m in msgs), "copies carry the rewritten subject")
    senders = {snd for snd, _, _ in sink.transactions()}
    t.eq(senders, {f"<team-admin@{DOMAIN}>"}, "envelope sender of the copies is LIST-admin")

    # 2. relay control
    s.rset()
    code, msg = s.docmd("MAIL FROM:<someone@example.org>")
    code, msg = s.docmd(f"RCPT TO:<nosuchlist@{DOMAIN}>")
    t.ok(code == 550 and msg.startswith(b"5.1.1"), "unknown list address: 550 5.1.1", msg)
    code, msg = s.docmd(f"RCPT TO:<team-ctl@{DOMAIN}>")
    t.eq(code, 250, "LIST-ctl accepted")
    code, msg = s.docmd(f"RCPT TO:<team-admin@{DOMAIN}>")
    t.eq(code, 250, "LIST-admin accepted")
    s.rset()
    code, msg = s.docmd("VRFY", "team")
    t.eq(code, 252, "VRFY answers 252")
    code, msg = s.docmd("EXPN", "team")
    t.eq(code, 502, "EXPN answers 502")
    code, msg = s.docmd("MAIL FROM:<a@example.org> SIZE=900000")
    t.ok(code == 552 and msg.startswith(b"5.3.4"), "SIZE over the limit: 552 5.3.4", msg)
    code, msg = s.docmd("HELP")
    t.eq(code, 214, "HELP answers 214")
    s.quit()

    # 3. open relay attempt from outside mynetworks (127.0.0.1 excluded)
    inst2 = Instance()
    inst2.newlist("team")
    relay2 = Relay(inst2, conf={"mynetworks": "10.0.0.0/8", "routes": f"elsewhere.test=[127.0.0.1]:{sink.port}",
                                "smtpd_timeout": "1", "smtpd_max_per_client": "2"})
    try:
        s2 = smtplib.SMTP("127.0.0.1", relay2.port, timeout=30)
        s2.ehlo("outside.example.net")
        s2.docmd("MAIL FROM:<spammer@example.net>")
        code, msg = s2.docmd("RCPT TO:<victim@elsewhere.test>")
        t.ok(code == 550 and b"5.7.1 Relaying denied" in msg, "open relay attempt: 550 5.7.1 Relaying denied", msg)
        code, msg = s2.docmd(f"RCPT TO:<team@{DOMAIN}>")
        t.eq(code, 250, "the list address is still accepted from anyone")
        s2.quit()
        r = subprocess.run(["swaks", "--server", f"127.0.0.1:{relay2.port}", "--from", "spammer@example.net",
                            "--to", "victim@elsewhere.test", "--helo", "outside.example.net"],
                           capture_output=True, timeout=30)
        t.ok(r.returncode != 0 and b"550 5.7.1 Relaying denied" in r.stdout, "swaks open-relay attempt refused",
             r.stdout)
        # connection limit per client, and the per-command timeout
        socks = [socket.create_connection(("127.0.0.1", relay2.port), timeout=10) for _ in range(3)]
        greets = [x.makefile("rb").readline() for x in socks]
        t.ok(greets[0].startswith(b"220") and greets[1].startswith(b"220") and greets[2].startswith(b"421"),
             "third connection from one client: 421 (smtpd_max_per_client=2)", greets)
        t0 = time.time()
        f = socks[0].makefile("rb")
        line = f.readline()
        t.ok(line.startswith(b"421 4.4.2") and time.time() - t0 < 5, "idle client: 421 timeout after smtpd_timeout",
             line)
        for x in socks:
            x.close()
    finally:
        relay2.stop()

    # 4. swaks posts too, and the runner wakes up at once for `deliver`
    before = len(sink.recipients())
    msgfile = os.path.join(inst.home, "swaks.eml")
    with open(msgfile, "wb") as f:
        f.write(make_msg(subject="by swaks").replace(b"\n", b"\r\n"))
    r = subprocess.run(["swaks", "--server", f"127.0.0.1:{relay.port}", "--from", "member@example.org",
                        "--to", f"team@{DOMAIN}", "--data", msgfile, "--helo", "client.example.org"],
                       capture_output=True, timeout=60)
    t.ok(r.returncode == 0 and b"250 2.0.0" in r.stdout, "swaks post accepted", r.stdout + r.stderr)
    t.ok(sink.wait_recipients(before + len(members)), "swaks post reached every member")
    before = len(sink.recipients())
    t0 = time.time()
    rd = inst.deliver("team", make_msg(subject="by deliver"), sender="member@example.org")
    ok = sink.wait_recipients(before + len(members), timeout=10)
    took = time.time() - t0
    t.ok(rd.returncode == 0 and ok and took < 3.0, f"post by `deliver` sent within a second or so ({took:.2f}s)")

    # 5. relaying for mynetworks goes through the queue
    before = len(sink.recipients())
    s = smtplib.SMTP("127.0.0.1", relay.port, timeout=30)
    refused = s.sendmail("member@example.org", ["someone@example.test", "other@example.org"], make_msg())
    t.eq(refused, {}, "relay from mynetworks accepted")
    t.ok(sink.wait_recipients(before + 2), "relayed mail delivered to both recipients")

    # 8-bit content goes out with BODY=8BITMIME (smtp-sink offers it)
    before = len(sink.recipients())
    s.sendmail("member@example.org", ["eight@example.test"], make_msg(body="Grüße, 日本語\n"), ["BODY=8BITMIME"])
    sink.wait_recipients(before + 1)
    dumps = [open(os.path.join(sink.dir, n), "rb").read() for n in os.listdir(sink.dir)]
    d8 = [d for d in dumps if b"<eight@example.test>" in d]
    t.ok(d8 and b"BODY=8BITMIME" in d8[0].split(b"\n\n")[0], "8-bit message relayed with BODY=8BITMIME",
         d8[0][:300] if d8 else None)

    # connection reuse: messages one after another share a connection
    before_sess, before = sink.sessions(), len(sink.recipients())
    for i in range(20):
        s.sendmail("member@example.org", [f"reuse{i}@example.test"], make_msg())
    t.ok(sink.wait_recipients(before + 20), "20 relayed messages delivered")
    wait_for(lambda: sink.sessions() > before_sess, 6)      # idle connections close after 2 s
    used = sink.sessions() - before_sess
    t.ok(1 <= used <= 10, f"outbound connections reused ({used} sessions for 20 messages)")

    # 6. robustness: long line, size limit during DATA, dot-stuffing, error limit
    code, msg = s.docmd("NOOP " + "x" * 2000)
    t.ok(code == 500 and b"too long" in msg, "overlong command line: 500 5.5.2", msg)
    big = make_msg(body="y" * 300000 + "\n")
    s.mail("member@example.org")            # no SIZE= parameter: the limit bites during DATA
    s.rcpt("someone@example.test")
    code, msg = s.data(big)
    t.ok(code == 552, "message over message_size_limit refused with 552 during DATA", msg)
    before = len(sink.recipients())
    s.sendmail("member@example.org", ["dots@example.test"], make_msg(body="line\n.\n..two dots\n.x\nend\n"))
    sink.wait_recipients(before + 1)
    m = [m for _, rs, m in sink.transactions() if "<dots@example.test>" in rs]
    t.ok(m and b"\n.\n..two dots\n.x\n" in m[0].replace(b"\r\n", b"\n"), "dot-stuffing round trip keeps the text",
         m[0][-200:] if m else None)
    s.quit()
    # only CRLF.CRLF ends DATA: a bare-LF "." cannot smuggle a second message
    before = len(sink.recipients())
    sock = socket.create_connection(("127.0.0.1", relay.port), timeout=10)
    f = sock.makefile("rb")
    f.readline()
    sock.sendall(b"EHLO c.example.org\r\nMAIL FROM:<member@example.org>\r\nRCPT TO:<smuggle@example.test>\r\n"
                 b"DATA\r\n")
    while not f.readline().startswith(b"354"):
        pass
    sock.sendall(b"Subject: one\r\n\r\nbody\n.\nMAIL FROM:<evil@example.org>\r\nRCPT TO:<victim@example.test>\r\n"
                 b"DATA\r\n\r\nsmuggled\r\n.\r\nQUIT\r\n")
    rest = f.read()
    sock.close()
    t.ok(rest.count(b"250 2.0.0") == 1, "a bare-LF dot line does not end DATA (no SMTP smuggling)", rest)
    sink.wait_recipients(before + 1)
    time.sleep(0.3)
    t.ok("<victim@example.test>" not in sink.recipients(), "nothing smuggled to a second recipient")
    sock = socket.create_connection(("127.0.0.1", relay.port), timeout=10)
    f = sock.makefile("rb")
    f.readline()
    for i in range(6):
        sock.sendall(b"BOGUS\r\n")
    lines = [f.readline() for _ in range(6)]
    t.ok(lines[-1].startswith(b"421"), "too many errors: 421 and disconnect", lines)
    sock.close()

    # 7. one relay per instance
    r = inst.run("relay", "--listen", f"127.0.0.1:{free_port()}", timeout=20)
    t.ok(r.returncode == 75 and b"another kairan relay is running" in r.stderr,
         "a second relay for the same instance refuses to start", r.stderr)

    # 8. the queue is empty afterwards
    t.ok(wait_for(lambda: "Mail queue is empty" in inst.check("queue"), 10), "kairan queue shows an empty queue",
         inst.check("queue"))
    log = inst.log()
    t.ok("status=sent" in log and "relay=" in log and "delay=" in log, "Postfix-style per-recipient log lines")
finally:
    if relay:
        relay.stop()
    sink.cleanup()
t.done()
