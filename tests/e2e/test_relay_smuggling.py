"""test_relay_smuggling.py - SMTP smuggling and recipient floods against
`kairan relay`.  Only CRLF.CRLF ends DATA: each published smuggling
variant ("\\n.\\n", "\\r\\n.\\n", "\\n.\\r\\n" before a second MAIL/RCPT/DATA)
gives ONE message whose text holds the would-be second transaction, the
victim gets nothing, and what goes to the next hop (a recording server
that keeps the exact DATA octets) has every LF after a CR and the lone
dot stuffed; a bare CR variant ("\\r.\\r\\n") is refused with 554.  A
client sending 10,000 RCPTs in one pipelined burst gets 250 for the
first smtpd_max_recipients (1000) and 452 4.5.3 for the rest, the
session goes on, and exactly the accepted recipients receive the
message, each once."""
import socket
import threading
import time

from kt import *

t = Tap()


class Recorder:
    """Accepts everything; keeps each message's DATA octets exactly."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(20)
        self.port = self.sock.getsockname()[1]
        self.messages = []          # (rcpts, raw data octets)
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
        rcpts = []
        try:
            c.sendall(b"220 rec ESMTP\r\n")
            while True:
                line = f.readline()
                if not line:
                    break
                cmd = line.strip().upper()
                if cmd.startswith(b"EHLO"):
                    c.sendall(b"250-rec\r\n250 8BITMIME\r\n")
                elif cmd.startswith(b"RCPT"):
                    rcpts.append(line.strip()[8:].strip(b"<>").decode())
                    c.sendall(b"250 ok\r\n")
                elif cmd == b"DATA":
                    c.sendall(b"354 go\r\n")
                    data = b""
                    while not data.endswith(b"\r\n.\r\n"):
                        chunk = f.readline()
                        if not chunk:
                            return
                        data += chunk
                    self.messages.append((rcpts, data))
                    rcpts = []
                    c.sendall(b"250 ok\r\n")
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


def converse(port, chunks, wait=1.5):
    """Send raw chunks, return every reply line seen."""
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    for ch in chunks:
        s.sendall(ch)
        time.sleep(0.05)
    time.sleep(wait)
    s.settimeout(1)
    out = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            out += b
    except socket.timeout:
        pass
    s.close()
    return out.split(b"\r\n")


inst = Instance()
rec = Recorder()
relay = None
try:
    relay = Relay(inst, conf={"routes": f"far.test=[127.0.0.1]:{rec.port};victim.test=[127.0.0.1]:{rec.port}"})
    variants = {"LF.LF": b"\n.\n", "CRLF.LF": b"\r\n.\n", "LF.CRLF": b"\n.\r\n"}
    for name, sep in variants.items():
        n_before = len(rec.messages)
        smuggled = (b"MAIL FROM:<evil@evil.test>\r\nRCPT TO:<victim@victim.test>\r\nDATA\r\n"
                    b"Subject: smuggled " + name.encode() + b"\r\n\r\nforged\r\n")
        out = converse(relay.port, [
            b"EHLO client.test\r\nMAIL FROM:<good@far.test>\r\nRCPT TO:<user@far.test>\r\nDATA\r\n",
            b"Subject: carrier " + name.encode() + b"\r\n\r\nfirst line" + sep + smuggled + b"\r\n.\r\nQUIT\r\n"])
        queued = [l for l in out if l.startswith(b"250 2.0.0")]
        t.eq(len(queued), 1, f"{name}: one message accepted, not two")
        t.ok(wait_for(lambda: len(rec.messages) > n_before, 10), f"{name}: the message went out")
        time.sleep(0.5)
        new = rec.messages[n_before:]
        t.eq([r for r, _ in new], [["user@far.test"]], f"{name}: only the real recipient, no victim")
        data = new[0][1] if new else b""
        t.ok(b"MAIL FROM:<evil@evil.test>" in data, f"{name}: the smuggled commands are plain text of the message")
        t.ok(b"\n" not in data.replace(b"\r\n", b""), f"{name}: no bare LF reaches the next hop", data[-300:])
        t.ok(b"\r\n..\r\n" in data, f"{name}: the lone dot goes out dot-stuffed", data[-300:])
    out = converse(relay.port, [
        b"EHLO client.test\r\nMAIL FROM:<good@far.test>\r\nRCPT TO:<user@far.test>\r\nDATA\r\n",
        b"Subject: carrier CR\r\n\r\nfirst line\r.\r\nMAIL FROM:<evil@evil.test>\r\n.\r\nQUIT\r\n"])
    t.ok(any(l.startswith(b"554 ") for l in out), "CR.CRLF (bare CR): refused with 554", out)

    # 10,000 RCPTs in one pipelined burst
    n_before = len(rec.messages)
    rcpts = [f"r{i:05d}@far.test" for i in range(10000)]
    burst = b"EHLO client.test\r\nMAIL FROM:<good@far.test>\r\n" + b"".join(
        f"RCPT TO:<{r}>\r\n".encode() for r in rcpts)
    s = socket.create_connection(("127.0.0.1", relay.port), timeout=60)
    f = s.makefile("rb")
    s.sendall(burst)
    replies = []
    while len([l for l in replies if l[:3] in (b"250", b"452", b"421", b"501") and l[3:4] == b" "]) < 10002:
        line = f.readline()
        if not line:
            break
        replies.append(line.rstrip(b"\r\n"))
    finals = [l for l in replies if l[3:4] == b" "]
    rc = finals[3:]          # after the greeting, EHLO and MAIL
    t.eq(len(rc), 10000, "10,000 RCPTs: 10,000 answers, the connection stays up")
    t.eq(sum(1 for l in rc if l.startswith(b"250 ")), 1000, "the first 1000 accepted")
    t.ok(all(l.startswith(b"452 4.5.3") for l in rc[1000:]), "the rest 452 4.5.3 Too many recipients",
         rc[1000:1002])
    s.sendall(b"DATA\r\n")
    t.ok(f.readline().startswith(b"354"), "DATA still possible")
    s.sendall(b"Subject: flood\r\n\r\nten thousand\r\n.\r\n")
    t.ok(f.readline().startswith(b"250 2.0.0"), "message accepted for the 1000")
    s.sendall(b"QUIT\r\n")
    s.close()
    t.ok(wait_for(lambda: sum(len(r) for r, _ in rec.messages[n_before:]) >= 1000, 30),
         "the accepted recipients receive it")
    time.sleep(1)
    got = [x for r, _ in rec.messages[n_before:] for x in r]
    t.eq(sorted(got), rcpts[:1000], "exactly the first 1000, each once")
finally:
    if relay:
        relay.stop()
    rec.stop()
t.done()
