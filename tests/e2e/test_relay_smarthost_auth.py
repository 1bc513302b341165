"""test_relay_smarthost_auth.py - client AUTH to a smarthost
(smarthost_auth_file, "HOST USER PASSWORD" lines).  The smarthost is a
second real `kairan relay` with STARTTLS that relays only for
authenticated clients (its mynetworks excludes 127.0.0.1) into
smtp-sink.  With the right credentials every member arrives; with a
wrong password the mail is deferred (not bounced) and arrives once the
file is fixed; against a smarthost without TLS the credentials are
never sent (the peer's log shows no AUTH) and the mail waits; the
password never appears in the log; a world-readable credentials file
or a malformed line stops the relay with 78."""
import re
import socket
import threading
import time

from kt import *

t = Tap()
if not which("smtp-sink"):
    t.skip_all("smtp-sink (postfix) not installed")

sink = Sink()
hub = Instance()
hub.newlist("hub", password="hub-secret-1")
cert, key = self_signed_cert(hub.home)
hubrelay = Relay(hub, conf={"tls_cert": cert, "tls_key": key, "mynetworks": "10.0.0.0/8",
                            "routes": f"far.test=[127.0.0.1]:{sink.port}"})


class Recorder:
    """A smarthost without STARTTLS that offers AUTH and records every
    command line it gets."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(10)
        self.port = self.sock.getsockname()[1]
        self.lines = []
        threading.Thread(target=self.loop, daemon=True).start()

    def loop(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            f = c.makefile("rb")
            try:
                c.sendall(b"220 recorder ESMTP\r\n")
                for line in f:
                    self.lines.append(line)
                    cmd = line.strip().upper()
                    if cmd.startswith(b"EHLO"):
                        c.sendall(b"250-recorder\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n")
                    elif cmd.startswith(b"AUTH"):
                        c.sendall(b"235 ok\r\n")
                    elif cmd == b"QUIT":
                        c.sendall(b"221 bye\r\n")
                        break
                    else:
                        c.sendall(b"250 ok\r\n")
            except OSError:
                pass
            c.close()

    def stop(self):
        self.sock.close()


plain = Recorder()

inst = Instance()
inst.newlist("team")
members = [f"f{i}@far.test" for i in range(5)]
inst.subscribe("team", *members)
authfile = inst.path("smarthost-auth")


def write_auth(text, mode=0o600):
    with open(authfile, "w") as f:
        f.write(text)
    os.chmod(authfile, mode)


def got(subject):
    return sorted(r.strip("<>") for _, rs, m in sink.transactions() if subject.encode() in m for r in rs)


host = f"[127.0.0.1]:{hubrelay.port}"
relay = None
try:
    # 1. the right credentials: relayed
    write_auth(f"# kairan smarthost credentials\n{host} hub hub-secret-1\n")
    relay = Relay(inst, conf={"smarthost": host, "smarthost_auth_file": authfile,
                              "retry_min": "1", "retry_max": "1"})
    r = inst.deliver("team", make_msg(subject="authed one", frm="f0@far.test"), sender="f0@far.test")
    t.eq(r.returncode, 0, "post accepted")
    t.ok(wait_for(lambda: len(got("authed one")) >= 5, 20), "with AUTH over TLS the smarthost relays every copy",
         inst.log()[-1000:])
    t.eq(got("authed one"), members, "each member once")
    t.ok(all(b"with ESMTPSA" in m for _, _, m in sink.transactions()),
         "the smarthost's Received: line says ESMTPSA (TLS + AUTH)")
    relay.stop()

    # 2. a wrong password: deferred, not bounced; fixed file -> delivered
    write_auth(f"{host} hub wrong-password-9\n")
    relay.start()
    r = inst.deliver("team", make_msg(subject="authed two", frm="f0@far.test"), sender="f0@far.test")
    t.ok(wait_for(lambda: "status=deferred" in inst.log() and "535" in inst.log(), 15),
         "a refused AUTH defers the mail (535 in the log)", inst.log()[-800:])
    t.ok("bounced" not in inst.log(), "nothing bounced for the operator's wrong password")
    t.eq(got("authed two"), [], "nothing relayed without authentication")
    relay.stop()
    write_auth(f"{host} hub hub-secret-1\n")
    relay.start()
    t.ok(wait_for(lambda: len(got("authed two")) >= 5, 20), "after the fix the deferred copies arrive")
    t.ok("hub-secret-1" not in inst.log() and "wrong-password-9" not in inst.log(),
         "no password in the log")
    relay.stop()

    # 3. no TLS at the smarthost: the credentials are not sent
    phost = f"[127.0.0.1]:{plain.port}"
    write_auth(f"{phost} hub hub-secret-1\n")
    set_global(inst, smarthost=phost)
    relay.start()
    r = inst.deliver("team", make_msg(subject="no tls", frm="f0@far.test"), sender="f0@far.test")
    t.ok(wait_for(lambda: "offers no TLS: the credentials" in inst.log(), 15),
         "a smarthost without STARTTLS: 'offers no TLS' and the mail waits", inst.log()[-800:])
    time.sleep(1)
    t.eq(got("no tls"), [], "nothing relayed")
    t.ok(any(l.upper().startswith(b"EHLO") for l in plain.lines), "the client did talk to it", plain.lines)
    t.ok(not any(l.upper().startswith(b"AUTH") or b"hub-secret" in l for l in plain.lines),
         "it never saw an AUTH command nor the password", plain.lines)
    t.ok(not any(l.upper().startswith(b"MAIL") for l in plain.lines), "nor a MAIL FROM", plain.lines)
    relay.stop()

    # 4. bad credential files stop the relay with 78
    write_auth(f"{phost} hub hub-secret-1\n", mode=0o644)
    r = inst.run("relay", "--listen", f"127.0.0.1:{free_port()}", timeout=20)
    t.eq(r.returncode, 78, "a world-readable smarthost_auth_file: relay exits 78")
    t.ok(b"readable by others" in r.stderr, "... saying why", r.stderr)
    write_auth(f"{phost} onlyuser\n")
    r = inst.run("relay", "--listen", f"127.0.0.1:{free_port()}", timeout=20)
    t.eq(r.returncode, 78, "a line without a password: relay exits 78")
    t.ok(b"line 1: want HOST USER PASSWORD" in r.stderr, "... naming the line", r.stderr)
finally:
    if relay:
        relay.stop()
    hubrelay.stop()
    plain.stop()
    sink.cleanup()
t.done()
