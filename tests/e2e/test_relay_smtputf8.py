"""test_relay_smtputf8.py - SMTPUTF8 (RFC 6531/6532) in `kairan relay`:
advertised in EHLO; an 8-bit address without the SMTPUTF8 parameter is
refused (553 5.6.7), as is invalid UTF-8 or an invisible bidi control;
a member with an internationalised address (ユーザー@utf8.test) can be
subscribed, post by SMTP with SMTPUTF8 and receive the list's copy,
which goes to an SMTPUTF8 next hop with MAIL ... SMTPUTF8 and the UTF-8
RCPT as is; to a next hop without SMTPUTF8 (smtp-sink) a UTF-8 recipient
is not sent but bounced with 5.6.7 while the ASCII members there get the
post (a hop that offers SMTPUTF8 but refuses a UTF-8 RCPT bounces it
with its own answer); an IDN domain is looked up in A-label form (dnsmasq only knows
xn--r8jz45g.test) and the recipient keeps its U-label on the wire.
The SMTPUTF8 peer is a small recording SMTP server (real wire lines)."""
import email
import email.policy
import smtplib
import socket
import re
import subprocess
import threading
import time

from kt import *

t = Tap()
if not which("smtp-sink") or not which("dnsmasq"):
    t.skip_all("smtp-sink or dnsmasq not installed")


class Recorder:
    """An ESMTP server offering SMTPUTF8 and 8BITMIME that accepts every
    message and records each command line (bytes) and each message."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(20)
        self.port = self.sock.getsockname()[1]
        self.lines, self.messages = [], []
        threading.Thread(target=self.loop, daemon=True).start()

    def loop(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.session, args=(c,), daemon=True).start()

    def session(self, c):
        f = c.makefile("rb")
        try:
            c.sendall(b"220 recorder ESMTP\r\n")
            for line in f:
                self.lines.append(line.rstrip(b"\r\n"))
                cmd = line.strip().upper()
                if cmd.startswith(b"EHLO"):
                    c.sendall(b"250-recorder\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 ENHANCEDSTATUSCODES\r\n")
                elif cmd.startswith(b"RCPT") and b"@refuse.test" in line and not line.isascii():
                    # advertises SMTPUTF8, then refuses a UTF-8 recipient
                    c.sendall(b"553 5.6.7 internationalised mailbox not accepted here\r\n")
                elif cmd == b"DATA":
                    c.sendall(b"354 go\r\n")
                    body = []
                    for dl in f:
                        if dl == b".\r\n":
                            break
                        body.append(dl)
                    self.messages.append(b"".join(body))
                    c.sendall(b"250 2.0.0 ok\r\n")
                elif cmd == b"QUIT":
                    c.sendall(b"221 bye\r\n")
                    break
                else:
                    c.sendall(b"250 2.0.0 ok\r\n")
        except OSError:
            pass
        c.close()

    def rcpts(self):
        return [l[8:].split(b">")[0].lstrip(b"<").decode("utf-8", "replace")
                for l in self.lines if l.upper().startswith(b"RCPT TO:")]

    def stop(self):
        self.sock.close()


U = "ユーザー@utf8.test"
U2 = "ユーザー2@ascii.test"
IDN = "例え.test"
ALABEL = IDN.split(".")[0].encode("idna").decode() + ".test"
inst = Instance()
inst.newlist("team")
rec, sink = Recorder(), Sink()
dns_port = free_port()
dns = subprocess.Popen([which("dnsmasq"), "--no-daemon", "--conf-file=/dev/null", f"--port={dns_port}",
                        "--listen-address=127.0.0.1", "--bind-interfaces", "--no-resolv", "--no-hosts",
                        "--user=nobody" if os.geteuid() == 0 else "--user=", "--pid-file=",
                        f"--mx-host={ALABEL},mx.idn.test,10", "--host-record=mx.idn.test,127.0.0.1",
                        "--local=/test/"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
relay = None
try:
    if not wait_port(dns_port, timeout=5) and dns.poll() is not None:
        pass
    time.sleep(0.3)
    # 1. subscribing internationalised addresses
    r = inst.run("subscribe", "team", U)
    t.ok(r.returncode == 0, "kairan subscribe accepts ユーザー@utf8.test", r.stderr)
    for a in ("plain@utf8.test", U2, "ascii@ascii.test", f"idn@{IDN}", "ゆ@refuse.test"):
        inst.check("subscribe", "team", a)
    t.ok(U in inst.check("members", "team"), "kairan members lists it as given")
    for bad, why in ((b"bad\xff@utf8.test", "invalid UTF-8"), ("a\u202e@utf8.test".encode(), "a bidi override"),
                     ("a\u2028b@utf8.test".encode(), "a line separator")):
        r = subprocess.run([KAIRAN, "--home", inst.home, "subscribe", "team", bad], capture_output=True)
        t.ok(r.returncode != 0, f"subscribe refuses {why}", r.stdout + r.stderr)

    relay = Relay(inst, conf={"routes": f"utf8.test=[127.0.0.1]:{rec.port};ascii.test=[127.0.0.1]:{sink.port};"
                                        f"refuse.test=[127.0.0.1]:{rec.port}",
                              "dns_resolver": f"127.0.0.1:{dns_port}", "mx_port": str(rec.port),
                              "retry_min": "1", "retry_max": "2"})
    # 2. EHLO; 8-bit envelope without SMTPUTF8 refused
    s = smtplib.SMTP("127.0.0.1", relay.port, timeout=30)
    code, caps = s.ehlo("client.utf8.test")
    t.ok(b"SMTPUTF8" in caps.split(b"\n"), "EHLO offers SMTPUTF8", caps)
    s.send(f"MAIL FROM:<{U}>\r\n".encode())
    code, msg = s.getreply()
    t.ok(code == 553 and msg.startswith(b"5.6.7"), "UTF-8 sender without SMTPUTF8: 553 5.6.7", (code, msg))
    s.docmd("MAIL FROM:<ascii@ascii.test>")
    s.send(f"RCPT TO:<{U}>\r\n".encode())
    code, msg = s.getreply()
    t.ok(code == 553 and msg.startswith(b"5.6.7"), "UTF-8 recipient without SMTPUTF8: 553 5.6.7", (code, msg))
    s.rset()
    s.send(b"MAIL FROM:<bad\xff@utf8.test> SMTPUTF8\r\n")
    code, msg = s.getreply()
    t.ok(code // 100 == 5, "invalid UTF-8 with SMTPUTF8: refused", (code, msg))
    s.send("MAIL FROM:<a\u202eb@utf8.test> SMTPUTF8\r\n".encode())
    code, msg = s.getreply()
    t.ok(code // 100 == 5, "a bidi override in the address: refused", (code, msg))
    s.rset()
    s.quit()

    # 3. the UTF-8 member posts with SMTPUTF8; everyone receives
    post = make_msg(subject="こんにちは", frm=f"ユーザー <{U}>", body="本文です。\n",
                    extra="Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n")
    s = smtplib.SMTP("127.0.0.1", relay.port, timeout=30)
    refused = s.sendmail(U, [f"team@{DOMAIN}"], post.encode("utf-8") if isinstance(post, str) else post,
                         mail_options=["SMTPUTF8", "BODY=8BITMIME"])
    s.quit()
    t.eq(refused, {}, "the post of ユーザー@utf8.test is accepted")
    t.ok(wait_for(lambda: inst.archive_numbers("team") == [1], 10), "it is archived as post 1",
         inst.log()[-1000:])
    t.ok(wait_for(lambda: {U, "plain@utf8.test", f"idn@{IDN}"} <= set(rec.rcpts()), 15),
         "the SMTPUTF8 hop got ユーザー@utf8.test, plain@utf8.test and idn@例え.test", rec.rcpts())
    mails = [l for l in rec.lines if l.upper().startswith(b"MAIL FROM:")]
    t.ok(mails and all(l.endswith(b" SMTPUTF8") or b" SMTPUTF8" in l for l in mails),
         "MAIL FROM carries SMTPUTF8 to it", mails)
    t.ok(f"RCPT TO:<{U}>".encode() in rec.lines, "the UTF-8 RCPT goes out as UTF-8, unchanged")
    t.ok(f"RCPT TO:<idn@{IDN}>".encode() in rec.lines, "the IDN recipient keeps its U-label on the wire")
    # the recorder sees the RCPT before the relay has the reply to DATA and logs the delivery
    t.ok(wait_for(lambda: "relay=mx.idn.test[127.0.0.1]" in inst.log(), 10), "the IDN domain was found by its A-label MX",
         inst.log()[-1500:])
    subjects = [str(email.message_from_bytes(m.replace(b"\r\n", b"\n"), policy=email.policy.default)["Subject"])
                for m in rec.messages]
    t.ok(subjects and all("こんにちは" in x for x in subjects), "the copies keep the Japanese subject", subjects)
    t.ok(rec.messages and all("本文です".encode() in m for m in rec.messages), "... and the UTF-8 body")
    t.ok(sink.wait_recipients(1, 10), "the hop without SMTPUTF8 got its ASCII member")
    t.eq(sorted(r.strip("<>") for r in sink.recipients()), ["ascii@ascii.test"],
         "... and only it: the UTF-8 address was not sent there")
    t.ok(wait_for(lambda: f"to=<{U2}>" in inst.log() and "5.6.7" in inst.log(), 10),
         "ユーザー2@ascii.test bounced with 5.6.7 (RFC 6531 3.2)", inst.log()[-1500:])
    t.ok(re.search(rf"to=<{U2}>.*status=bounced", inst.log()) is not None, "logged as bounced")
    t.ok(wait_for(lambda: re.search(r"to=<ゆ@refuse\.test>.*status=bounced \(553 5\.6\.7 internationalised", inst.log())
                  is not None, 10),
         "a hop that offers SMTPUTF8 and then refuses the UTF-8 RCPT: bounced with its answer", inst.log()[-1500:])
    t.ok(wait_for(lambda: "Mail queue is empty" in inst.check("queue"), 15), "queue empty")
finally:
    if relay:
        relay.stop()
    rec.stop()
    sink.cleanup()
    dns.terminate()
    dns.wait()
t.done()
