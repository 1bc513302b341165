#!/usr/bin/env python3
"""test_imap_abuse.py - `kairan imapd` under bad input, on a raw socket:
garbage lines, malformed arguments, a 1 GB literal announced (refused
before a byte of it is asked for; as LITERAL+ the session ends), an
over-long line, deep nesting, commands in the wrong state, out-of-range
sequence sets, literals used the right way, a non-member logging in,
repeated failures closing the connection, clients that vanish mid-
command, every mail of the shared corpus fetched whole and in parts,
the idle timeout and the client limit.  After each, the daemon must still answer."""
import imaplib
import re
import socket
import time

from kt import Tap, Instance, Imapd, make_msg, corpus_files

t = Tap()
inst = Instance()
inst.newlist("team")
inst.subscribe("team", "ann@example.org")
inst.config("team", "post_policy", "anyone")
inst.check("passwd", "team", "ann@example.org", stdin=b"ann pass\n")
for i in range(3):
    r = inst.deliver("team", make_msg(subject=f"post {i + 1}"), sender="ann@example.org")
    assert r.returncode == 0, r.stderr
corpus = corpus_files()
if not corpus:
    t.diag("../shared/corpus absent: the corpus part is skipped")
for path in corpus:
    with open(path, "rb") as f:
        inst.deliver("team", f.read(), sender="corpus@example.org")
nums = inst.archive_numbers("team")


class Raw:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.f = self.s.makefile("rb")
        self.greeting = self.f.readline()

    def send(self, data):
        self.s.sendall(data)

    def line(self):
        return self.f.readline()

    def cmd(self, text, tag=None):
        """send a command; the lines up to its tagged answer."""
        if isinstance(text, str):
            text = text.encode()
        self.send(text + b"\r\n")
        tag = tag or text.split(b" ", 1)[0]
        out = []
        while True:
            ln = self.f.readline()
            out.append(ln)
            if not ln or ln.startswith(tag + b" ") or ln.startswith(b"* BYE"):
                return out

    def close(self):
        self.s.close()


def last(lines):
    return lines[-1] if lines else b""


with Imapd(inst, imap_login_delay="0.05") as d:
    def alive():
        c = imaplib.IMAP4("127.0.0.1", d.port)
        ok = c.noop()[0] == "OK"
        c.logout()
        return ok and d.alive()

    r = Raw(d.port)
    t.ok(r.greeting.startswith(b"* OK [CAPABILITY IMAP4rev1"), "greeting with capabilities", r.greeting)
    for junk, what in ((b"", "an empty line"), (b"   ", "blanks"), (b"\x00\x01\x02", "control bytes"),
                       (b"a1", "a tag alone"), (b"a1 ", "a tag and a space"), (b"+ x", "a bad tag"),
                       (b"a1 FROBNICATE", "an unknown command"), (b"a1 NOOP extra", "NOOP with an argument?"),
                       (b'a1 LOGIN "unterminated', "an unterminated quoted string"),
                       (b'a1 LOGIN "a\\x" b', "a bad escape"), (b"a1 LOGIN (a b", "an unterminated list"),
                       (b"a1 LOGIN {abc}", "a bad literal"), (b"\xff\xfe garbage", "8-bit garbage"),
                       (b"a1 " + b"(" * 200 + b")" * 200, "lists nested 200 deep")):
        ln = last(r.cmd(junk, tag=b"a1" if junk.startswith(b"a1") else b"*"))
        if what == "NOOP with an argument?":
            continue
        t.ok(b" BAD " in ln, f"{what}: BAD", ln)
    t.ok(alive(), "the daemon still answers after the garbage")

    # wrong state
    for cmd in ("a2 SELECT INBOX", "a2 FETCH 1 FLAGS", "a2 UID FETCH 1 FLAGS", "a2 LIST \"\" *", "a2 EXPUNGE",
                "a2 STORE 1 +FLAGS \\Seen"):
        ln = last(r.cmd(cmd))
        t.ok(ln.startswith(b"a2 BAD"), f"{cmd.split(' ', 1)[1]} before login: BAD", ln)

    # a 1 GB literal: refused before its data is asked for
    r.send(b"a3 LOGIN {1073741824}\r\n")
    ln = r.line()
    t.ok(ln.startswith(b"a3 BAD") and b"TOOBIG" in ln, "a 1 GB synchronising literal is refused at once", ln)
    ln = last(r.cmd("a4 NOOP"))
    t.ok(ln.startswith(b"a4 OK"), "and the session goes on", ln)
    r.send(b"a5 LOGIN {99999999999999999999}\r\n")
    t.ok(r.line().startswith(b"a5 BAD"), "a literal size beyond 64 bits is refused too")
    # literals used the right way: synchronising and LITERAL+
    r.send(b"a6 LOGIN {20}\r\n")
    cont = r.line()
    t.ok(cont.startswith(b"+ "), "a small literal gets its continuation", cont)
    r.send(b"ann@example.org/team {8+}\r\nann pass\r\n")
    ln = r.line()
    t.ok(ln.startswith(b"a6 OK"), "LOGIN with a synchronising and a LITERAL+ literal", ln)
    ln = last(r.cmd("a7 SELECT INBOX"))
    t.ok(ln.startswith(b"a7 OK"), "SELECT", ln)
    n = len(nums)
    for cmd, what in ((f"a8 FETCH {n + 1} FLAGS", "a sequence number past the last"),
                      (f"a8 FETCH 1:{n + 5} FLAGS", "a range past the last"),
                      ("a8 FETCH 0 FLAGS", "message number 0"), ("a8 FETCH -1 FLAGS", "a negative number"),
                      ("a8 FETCH 1:x FLAGS", "a malformed set"), ("a8 FETCH 99999999999 FLAGS", "an enormous number"),
                      ("a8 FETCH 1 (FLAGS", "an unterminated item list"), ("a8 FETCH 1 BODY[", "an open section"),
                      ("a8 FETCH 1 BODY[FOO]", "an unknown section"), ("a8 FETCH 1 BODY[1.0]", "part 0"),
                      ("a8 FETCH 1 BODY[]<1.0>", "a zero-length partial"), ("a8 FETCH 1 NOSUCH", "an unknown item"),
                      ("a8 FETCH 1 BODY[HEADER.FIELDS ()]", "an empty field list"),
                      ("a8 STORE 1 FLAGS (\\Nonsense)", "an unknown system flag"),
                      ("a8 STORE 1 BOGUS (\\Seen)", "an unknown STORE item"),
                      ("a8 SEARCH NOSUCHKEY", "an unknown search key"), ("a8 SEARCH SINCE yesterday", "a bad date"),
                      ("a8 SEARCH OR SEEN", "OR with one key"), ("a8 SEARCH", "SEARCH without keys"),
                      ("a8 SORT (NOSUCH) UTF-8 ALL", "an unknown sort key"), ("a8 THREAD ORDEREDSUBJECT UTF-8 ALL",
                                                                            "an unsupported thread algorithm"),
                      ("a8 UID", "UID alone"), ("a8 UID FROB 1", "UID with an unknown command")):
        ln = last(r.cmd(cmd))
        t.ok(ln.startswith(b"a8 BAD"), f"{what}: BAD", ln)
    lines = r.cmd(f"a9 UID FETCH {nums[-1] + 100}:{nums[-1] + 200} FLAGS")
    t.ok(len(lines) == 1 and lines[0].startswith(b"a9 OK"), "UID FETCH of UIDs that do not exist: OK, nothing", lines)
    lines = r.cmd(f"a9 UID FETCH {nums[-1] + 100}:* UID")
    t.ok(len(lines) == 2 and lines[0] == f"* {n} FETCH (UID {nums[-1]})\r\n".encode(),
         "UID FETCH N:* with N past the last gives the last message (RFC 3501 6.4.8)", lines)
    ln = last(r.cmd("a9 LOGIN x y"))
    t.ok(ln.startswith(b"a9 BAD"), "LOGIN when logged in: BAD", ln)
    # an over-long line is consumed whole and answered once
    r.send(b"a10 NOOP " + b"x" * 200000 + b"\r\n")
    ln = r.line()
    t.ok(ln.startswith(b"* BAD") and b"too long" in ln, "a 200 KB line: BAD", ln)
    ln = last(r.cmd("a11 NOOP"))
    t.ok(ln.startswith(b"a11 OK"), "the next command is read normally", ln)
    # a 1 GB LITERAL+ cannot be skipped: the session ends
    r.send(b"a12 LOGIN {1073741824+}\r\n")
    ln = r.line()
    t.ok(ln.startswith(b"* BYE") and b"TOOBIG" in ln, "a 1 GB LITERAL+ ends the session with BYE", ln)
    t.eq(r.line(), b"", "and the connection is closed")
    r.close()
    t.ok(alive(), "the daemon still answers")

    # a non-member, and three failures in a row
    r = Raw(d.port)
    t0 = time.time()
    ln = last(r.cmd('b1 LOGIN "nobody@example.org/team" "x"'))
    t.ok(ln.startswith(b"b1 NO [AUTHENTICATIONFAILED]") and time.time() - t0 >= 0.05,
         "a non-member is refused after the login delay", ln)
    r.cmd('b2 LOGIN "ann@example.org/team" "wrong"')
    lines = r.cmd('b3 LOGIN "ann@example.org/team" "wrong"') + [r.line(), r.line()]
    t.ok(lines[0].startswith(b"b3 NO") and lines[1].startswith(b"* BYE") and lines[2] == b"",
         "the third failure in one connection ends it", lines)
    r.close()

    # clients that vanish mid-command
    for data in (b"c1 LOGIN {10}\r\n", b"c1 LOGIN {5+}\r\nab", b"c1 LOGIN \"ann", b"c1 AUTHENTICATE PLAIN\r\n"):
        r = Raw(d.port)
        r.send(data)
        time.sleep(0.05)
        r.close()
    t.ok(alive(), "clients vanishing mid-command harm nothing")

    # AUTHENTICATE PLAIN with bad responses
    r = Raw(d.port)
    for resp, what in ((b"!!!", "bad base64"), (b"YWJj", "no NULs"), (b"*", "a cancel")):
        r.send(b"d1 AUTHENTICATE PLAIN\r\n")
        r.line()
        r.send(resp + b"\r\n")
        ln = r.line()
        t.ok(ln.startswith(b"d1 BAD") or ln.startswith(b"d1 NO"), f"AUTHENTICATE PLAIN with {what}: refused", ln)
    r.close()

    # the whole corpus, fetched whole and in parts
    c = imaplib.IMAP4("127.0.0.1", d.port)
    c.login("ann@example.org/team", "ann pass")
    c.select("INBOX")
    bad = []
    for item in ("(BODYSTRUCTURE ENVELOPE RFC822.SIZE)", "(BODY.PEEK[1] BODY.PEEK[2.1] BINARY.PEEK[1] BODY.PEEK[1.MIME])",
                 "(BODY.PEEK[2.HEADER] BODY.PEEK[1.TEXT] BINARY.SIZE[2])", "(BODY.PEEK[])"):
        typ, data = c.uid("FETCH", "1:*", item)
        got = sum(1 for x in data if x and (isinstance(x, tuple) or re.match(rb"\d+ \(", x)))
        if typ != "OK" or got < len(nums):
            bad.append((item, typ, got))
    t.ok(not bad, f"FETCH of {len(nums)} posts ({len(corpus)} from the corpus) whole and in parts", bad)
    typ, data = c.search("UTF-8", "TEXT", "テスト".encode())
    t.eq(typ, "OK", "SEARCH over the corpus")
    c.logout()
    t.ok(alive(), "the daemon survived the corpus")

# bounded sessions: the idle timeout (IDLE included) and the client limit
with Imapd(inst, imap_login_delay="0.05", imap_timeout="2", imap_max_clients="2") as d:
    time.sleep(1)       # the start-up probe of Imapd was a client too: let its session end
    r1, r2 = Raw(d.port), Raw(d.port)
    t0 = time.time()
    r2.cmd('e1 LOGIN "ann@example.org/team" "ann pass"')
    r2.send(b"e2 IDLE\r\n")
    t.ok(r2.line().startswith(b"+"), "IDLE")
    r3 = Raw(d.port)
    t.ok(r3.greeting.startswith(b"* BYE") and r3.line() == b"", "a third client past imap_max_clients = 2 gets BYE",
         r3.greeting)
    r3.close()
    ln = r1.line()
    t.ok(ln.startswith(b"* BYE") and 1.5 < time.time() - t0 < 6, "an idle client is dropped after imap_timeout", ln)
    ln = r2.line()
    t.ok(ln.startswith(b"* BYE") and 1.5 < time.time() - t0 < 6, "IDLE ends with BYE after imap_timeout too", ln)
    r1.close()
    r2.close()
    time.sleep(0.3)
    r4 = Raw(d.port)
    t.ok(r4.greeting.startswith(b"* OK"), "the freed slots take new clients", r4.greeting)
    r4.close()

t.done()
