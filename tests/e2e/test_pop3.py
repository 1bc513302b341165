#!/usr/bin/env python3
"""test_pop3.py - `kairan pop3d` with Python's poplib: USER/PASS, APOP,
AUTH PLAIN, STLS with a self-signed certificate, CAPA, STAT, LIST, RETR
(byte-exact, dot-stuffed), TOP, UIDL, DELE per member across reconnects,
RSET, and who may log in under each archive_access setting."""
import base64
import hashlib
import os
import poplib
import re
import socket
import ssl
import subprocess
import tempfile

from kt import (Tap, Instance, Pop3d, make_msg, self_signed_cert, crlf_size, ctl_mail, KAIRAN,
                free_port, set_global)

poplib._MAXLINE = 100000   # one post has a 5000-octet line
t = Tap()
inst = Instance()
inst.newlist("team", owner="owner@example.org", password="ownerpass")
inst.subscribe("team", "ann@example.org", "bob@example.org")
inst.config("team", "post_policy", "anyone")
inst.check("passwd", "team", "ann@example.org", stdin=b"ann pass 1\n")
inst.check("passwd", "team", "bob@example.org", stdin=b"bobpass\n")

bodies = [
    "Hello list.\n",
    ".a line starting with a dot\n..two dots\n.\nafter a lone dot\n",
    "From the start of a line\n\n\nblank lines above\n",
    "x" * 5000 + "\nlong line above\n",
    "last one\n",
]
for i, body in enumerate(bodies):
    r = inst.deliver("team", make_msg(subject=f"post {i + 1}", body=body), sender="ann@example.org")
    assert r.returncode == 0, r.stderr
nums = inst.archive_numbers("team")
t.eq(nums, [1, 2, 3, 4, 5], "five posts archived through kairan deliver")


def spool(n):
    with open(inst.path("spool", "team", "archive", str(n)), "rb") as f:
        return f.read()


def archive_digest():
    h = hashlib.sha256()
    for n in inst.archive_numbers("team"):
        h.update(spool(n))
    return h.hexdigest()


before = archive_digest()
tmp = tempfile.mkdtemp(prefix="kairan-pop3-tls-")
cert, key = self_signed_cert(tmp)


def raw(port):
    """A raw socket client: (socket, file, greeting)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    f = s.makefile("rb")
    return s, f, f.readline()


def cmd(s, f, line):
    s.sendall(line.encode() + b"\r\n")
    return f.readline().decode().rstrip("\r\n")


def multiline(f):
    lines = []
    while True:
        ln = f.readline()
        if ln in (b".\r\n", b""):
            return lines
        lines.append(ln)


with Pop3d(inst, tls_cert=cert, tls_key=key, pop3_login_delay="0.05") as d:
    # greeting, CAPA
    p = poplib.POP3("127.0.0.1", d.port, timeout=10)
    welcome = p.getwelcome().decode()
    t.ok(welcome.startswith("+OK") and re.search(r"<[^<>@]+@[^<>]+>", welcome),
         "greeting carries an APOP timestamp", welcome)
    capa = p.capa()
    for c in ("TOP", "UIDL", "USER", "SASL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "STLS",
              "IMPLEMENTATION"):
        t.ok(c in capa, f"CAPA lists {c}", capa)
    t.ok("PLAIN" in capa.get("SASL", []), "CAPA offers SASL PLAIN", capa)
    try:
        p.stat()
        t.ok(False, "STAT before login refused")
    except poplib.error_proto as e:
        t.ok(str(e).startswith("b'-ERR"), "STAT before login answered -ERR", e)

    # USER/PASS
    p.user("ann@example.org/team")
    resp = p.pass_("ann pass 1")
    t.ok(resp.startswith(b"+OK"), "USER/PASS login (password with spaces)", resp)
    count, total = p.stat()
    t.eq(count, 5, "STAT counts every archived post")
    sizes = {int(n): int(s) for n, s in (x.split() for x in p.list()[1])}
    want_sizes = {n: crlf_size(spool(n)) for n in nums}
    t.eq(sizes, want_sizes, "LIST sizes are the CRLF sizes of the spool files")
    t.eq(total, sum(want_sizes.values()), "STAT total is the sum of the CRLF sizes")
    t.eq(p.list(3).split()[2], str(want_sizes[3]).encode(), "LIST 3 gives the size of message 3")
    uidl = [x.split()[1].decode() for x in p.uidl()[1]]
    t.eq(uidl, [f"team.{n}" for n in nums], "UIDL is LIST.N")
    t.eq(p.uidl(2).split()[2], b"team.2", "UIDL 2")
    exact = True
    for n in nums:
        resp, lines, octets = p.retr(n)
        got = b"\n".join(lines) + b"\n"
        if got != spool(n):
            exact = False
            t.diag(f"message {n} differs")
    t.ok(exact, "RETR of every message gives the archive file byte for byte")
    resp, lines, _ = p.top(2, 0)
    head = spool(2).split(b"\n\n", 1)[0].split(b"\n")
    t.eq(lines, head + [b""], "TOP 2 0 gives the header and the empty line")
    resp, lines, _ = p.top(2, 2)
    t.eq(lines, head + [b"", b".a line starting with a dot", b"..two dots"], "TOP 2 2 gives two body lines")
    t.ok(p.noop().startswith(b"+OK"), "NOOP")
    try:
        p.user("ann@example.org/team")
        t.ok(False, "USER after login refused")
    except poplib.error_proto as e:
        t.ok(True, "USER in TRANSACTION state answered -ERR")
    # DELE and RSET
    p.dele(1)
    t.eq(p.stat()[0], 4, "DELE 1 takes message 1 out of STAT")
    try:
        p.retr(1)
        t.ok(False, "RETR of a deleted message refused")
    except poplib.error_proto:
        t.ok(True, "RETR of a deleted message answered -ERR")
    p.rset()
    t.eq(p.stat()[0], 5, "RSET brings it back")
    p.dele(1)
    p.dele(3)
    p.quit()

    # dot-stuffing on the wire
    s, f, _ = raw(d.port)
    cmd(s, f, "USER ann@example.org/team")
    cmd(s, f, "PASS ann pass 1")
    t.ok(cmd(s, f, "RETR 1").startswith("+OK"), "raw RETR 1 (post 2: ann deleted post 1)")
    wire = b"".join(multiline(f))
    t.ok(b"\r\n..a line starting with a dot\r\n...two dots\r\n..\r\nafter a lone dot\r\n" in wire,
         "lines starting with a dot are dot-stuffed, every line ends in CRLF", wire[-200:])
    t.ok(b"\n" not in wire.replace(b"\r\n", b""), "no bare LF on the wire")
    # a client that drops the connection without QUIT applies no DELE
    t.ok(cmd(s, f, "DELE 1").startswith("+OK"), "DELE 1, then the connection drops without QUIT")
    s.close()

    # DELE is kept for that member, applied at QUIT, survives a reconnect
    p = poplib.POP3("127.0.0.1", d.port, timeout=10)
    p.user("ann@example.org/team")
    p.pass_("ann pass 1")
    uidl = [x.split()[1].decode() for x in p.uidl()[1]]
    t.eq(uidl, ["team.2", "team.4", "team.5"], "after reconnect ann no longer sees her deleted 1 and 3")
    resp, lines, _ = p.retr(1)
    t.eq(b"\n".join(lines) + b"\n", spool(2), "message 1 is now post 2; UIDL stays team.2")
    p.quit()
    p = poplib.POP3("127.0.0.1", d.port, timeout=10)
    p.user("bob@example.org/team")
    p.pass_("bobpass")
    t.eq(p.stat()[0], 5, "bob still sees all five posts")
    p.quit()
    t.eq(archive_digest(), before, "the archive files are unchanged")
    t.eq(inst.archive_numbers("team"), nums, "no archive file removed")

    # APOP
    p = poplib.POP3("127.0.0.1", d.port, timeout=10)
    resp = p.apop("bob@example.org/team", "bobpass")
    t.ok(resp.startswith(b"+OK"), "APOP login", resp)
    t.eq(p.stat()[0], 5, "APOP session sees the mailbox")
    p.quit()
    p = poplib.POP3("127.0.0.1", d.port, timeout=10)
    try:
        p.apop("bob@example.org/team", "wrong")
        t.ok(False, "APOP with a wrong secret refused")
    except poplib.error_proto as e:
        t.ok(str(e).startswith("b'-ERR [AUTH]"), "APOP with a wrong secret: -ERR [AUTH]", e)
    p.quit()

    # the `password` command mail, once confirmed, sets a random POP3
    # password (and APOP secret) mailed to the member
    def last_notice(kind):
        ms = [q for q in inst.queue() if q["msg"]["X-Kairan-Notice"] == kind and "bob@example.org" in q["rcpts"]]
        return ms[-1]["msg"] if ms else None
    r = inst.deliver("team", ctl_mail(body="password\n", frm="bob@example.org"),
                     sender="bob@example.org", mode="--ctl")
    t.eq(r.returncode, 0, "command mail `password` accepted")
    req = last_notice("password_request")
    tok = re.search(r"confirm ([0-9a-f]{32})", str(req["Subject"])).group(1) if req else "-"
    inst.deliver("team", ctl_mail(subject=f"Re: confirm {tok}", frm="bob@example.org"),
                 sender="bob@example.org", mode="--ctl")
    new = last_notice("password_new")
    m = re.search(r"^  (\S{16})$", new.get_body(("plain",)).get_content(), re.M) if new else None
    p = poplib.POP3("127.0.0.1", d.port, timeout=10)
    t.ok(m is not None and p.apop("bob@example.org/team", m.group(1)).startswith(b"+OK"),
         "APOP with the password set by a confirmed command mail")
    p.quit()
    inst.check("passwd", "team", "bob@example.org", stdin=b"bobpass\n")

    # AUTH PLAIN, with an initial response and with a continuation
    s, f, _ = raw(d.port)
    tok = base64.b64encode(b"\0bob@example.org/team\0bobpass").decode()
    t.ok(cmd(s, f, "AUTH PLAIN " + tok).startswith("+OK"), "AUTH PLAIN with initial response")
    t.ok(cmd(s, f, "STAT").startswith("+OK 5 "), "STAT after AUTH PLAIN")
    cmd(s, f, "QUIT")
    s.close()
    s, f, _ = raw(d.port)
    t.eq(cmd(s, f, "AUTH PLAIN"), "+ ", "AUTH PLAIN asks for the response")
    t.ok(cmd(s, f, tok).startswith("+OK"), "AUTH PLAIN with a continuation line")
    cmd(s, f, "QUIT")
    s.close()
    s, f, _ = raw(d.port)
    bad = base64.b64encode(b"\0bob@example.org/team\0nope").decode()
    t.ok(cmd(s, f, "AUTH PLAIN " + bad).startswith("-ERR [AUTH]"), "AUTH PLAIN wrong password: -ERR [AUTH]")
    t.ok(cmd(s, f, "AUTH PLAIN").startswith("+ ") and cmd(s, f, "*").startswith("-ERR"),
         "AUTH PLAIN cancelled with *")
    cmd(s, f, "QUIT")
    s.close()

    # the same refusal for a wrong password, an unknown user, a non-member
    answers = set()
    for user, pw in (("ann@example.org/team", "wrong"), ("nobody@example.org/team", "x"),
                     ("ann@example.org/nolist", "ann pass 1"), ("garbage", "x")):
        s, f, _ = raw(d.port)
        cmd(s, f, f"USER {user}")
        answers.add(cmd(s, f, f"PASS {pw}"))
        s.close()
    t.eq(len(answers), 1, "every refused login gets the same answer")
    t.ok(next(iter(answers)).startswith("-ERR [AUTH]"), "refused login says -ERR [AUTH]", answers)

    # owner with the list owner password
    p = poplib.POP3("127.0.0.1", d.port, timeout=10)
    p.user("owner@example.org/team")
    t.ok(p.pass_("ownerpass").startswith(b"+OK"), "an owner logs in with the list owner password")
    p.quit()

    # STLS with a self-signed certificate
    p = poplib.POP3("127.0.0.1", d.port, timeout=10)
    ctx = ssl.create_default_context(cafile=cert)
    ctx.check_hostname = False
    p.stls(context=ctx)
    t.ok("STLS" not in p.capa(), "after STLS, CAPA no longer offers STLS")
    p.user("bob@example.org/team")
    p.pass_("bobpass")
    resp, lines, _ = p.retr(4)
    t.eq(b"\n".join(lines) + b"\n", spool(4), "RETR over TLS is byte-exact")
    t.ok(p.sock.version() is not None, f"session is TLS ({p.sock.version()})")
    p.quit()

    # archive_access = public: anonymous/LIST with any password
    p = poplib.POP3("127.0.0.1", d.port, timeout=10)
    p.user("anonymous/team")
    try:
        p.pass_("anything")
        t.ok(False, "anonymous refused while archive_access = members")
    except poplib.error_proto as e:
        t.ok(str(e).startswith("b'-ERR [AUTH]"), "anonymous refused while archive_access = members")
    p.quit()
    inst.config("team", "archive_access", "public")
    p = poplib.POP3("127.0.0.1", d.port, timeout=10)
    p.user("anonymous/team")
    t.ok(p.pass_("any thing").startswith(b"+OK"), "archive_access = public: anonymous/team logs in")
    t.eq(p.stat()[0], 5, "anonymous sees the whole archive")
    p.dele(1)
    p.quit()
    p = poplib.POP3("127.0.0.1", d.port, timeout=10)
    p.user("anonymous/team")
    p.pass_("x")
    t.eq(p.stat()[0], 5, "an anonymous DELE is not kept for the next anonymous session")
    p.quit()
    # archive_access = owners: members refused, owners allowed
    inst.config("team", "archive_access", "owners")
    p = poplib.POP3("127.0.0.1", d.port, timeout=10)
    p.user("bob@example.org/team")
    try:
        p.pass_("bobpass")
        t.ok(False, "a member refused while archive_access = owners")
    except poplib.error_proto as e:
        t.ok(str(e).startswith("b'-ERR [AUTH]"), "a member refused while archive_access = owners")
    p.quit()
    p = poplib.POP3("127.0.0.1", d.port, timeout=10)
    p.user("owner@example.org/team")
    t.ok(p.pass_("ownerpass").startswith(b"+OK"), "the owner still logs in with archive_access = owners")
    p.quit()
    inst.config("team", "archive_access", "members")
    t.ok(d.alive(), "pop3d still running")

out = d.output()
t.ok("Sanitizer" not in out and "runtime error" not in out, "pop3d stopped without sanitizer reports", out[-3000:])
# pop3_plaintext_auth = tls: no USER/PASS before STLS, even from loopback
with Pop3d(inst, tls_cert=cert, tls_key=key, pop3_plaintext_auth="tls", pop3_login_delay="0") as d:
    p = poplib.POP3("127.0.0.1", d.port, timeout=10)
    capa = p.capa()
    t.ok("USER" not in capa and "SASL" not in capa and "STLS" in capa,
         "plaintext_auth = tls: CAPA offers STLS but not USER/SASL before TLS", capa)
    try:
        p.user("bob@example.org/team")
        t.ok(False, "USER refused before STLS")
    except poplib.error_proto as e:
        t.ok(str(e).startswith("b'-ERR [AUTH]"), "USER before STLS: -ERR [AUTH]", e)
    resp = p.apop("bob@example.org/team", "bobpass")
    t.ok(resp.startswith(b"+OK"), "APOP (no plaintext password) still works without TLS")
    p.quit()
    p = poplib.POP3("127.0.0.1", d.port, timeout=10)
    p.stls(context=ctx)
    t.ok("USER" in p.capa(), "after STLS, CAPA offers USER")
    p.user("bob@example.org/team")
    t.ok(p.pass_("bobpass").startswith(b"+OK"), "USER/PASS after STLS")
    p.quit()

# POP3S (RFC 8314): TLS from the first byte on a port of its own
with Pop3d(inst, pop3s=True, tls_cert=cert, tls_key=key, pop3_plaintext_auth="tls", pop3_login_delay="0") as d:
    p = poplib.POP3_SSL("127.0.0.1", d.tls_port, timeout=10, context=ctx)
    t.ok(p.getwelcome().startswith(b"+OK"), "POP3S: the greeting comes over TLS", p.getwelcome())
    t.ok(p.sock.version() is not None, f"POP3S session is TLS ({p.sock.version()})")
    capa = p.capa()
    t.ok("STLS" not in capa and "USER" in capa, "POP3S: CAPA offers USER (plaintext_auth = tls) and no STLS", capa)
    p.user("bob@example.org/team")
    t.ok(p.pass_("bobpass").startswith(b"+OK"), "POP3S: USER/PASS")
    resp, lines, _ = p.retr(4)
    t.eq(b"\n".join(lines) + b"\n", spool(4), "POP3S: RETR is byte-exact")
    p.quit()
    # curl, another real client, over pop3s://
    cr = subprocess.run(["curl", "-s", "--cacert", cert, "--resolve", f"localhost:{d.tls_port}:127.0.0.1",
                         "-u", "bob@example.org/team:bobpass", f"pop3s://localhost:{d.tls_port}/4"],
                        capture_output=True, timeout=30)
    t.ok(cr.stdout.replace(b"\r\n", b"\n") == spool(4), "curl pop3s:// fetches message 4 byte-exact",
         cr.stderr.decode(errors="replace"))
    # a client speaking plaintext to the POP3S port gets no POP3 greeting
    s = socket.create_connection(("127.0.0.1", d.tls_port), timeout=10)
    s.sendall(b"USER bob@example.org/team\r\n")
    try:
        got = s.recv(4096)
    except (ConnectionError, socket.timeout):
        got = b""
    s.close()
    t.ok(not got.startswith(b"+OK"), "plaintext on the POP3S port: no +OK greeting", got[:80])
    # the plain port beside it still answers, with STLS
    p = poplib.POP3("127.0.0.1", d.port, timeout=10)
    t.ok("STLS" in p.capa(), "the plain port still offers STLS next to POP3S")
    p.quit()
    t.ok(d.alive(), "pop3d still running after the POP3S sessions")
# POP3S without a certificate is a configuration error, said at start
set_global(inst, tls_cert="", tls_key="")
r = subprocess.run([KAIRAN, "--home", inst.home, "pop3d", "--listen", f"127.0.0.1:{free_port()}",
                    "--listen-tls", f"127.0.0.1:{free_port()}"], capture_output=True, timeout=30)
t.ok(r.returncode == 78, "POP3S without tls_cert/tls_key: exit 78 (configuration)", r)
t.ok(b"needs tls_cert and tls_key" in r.stderr, "... with a message that says what is missing", r.stderr)

# pop3_apop = no: passwords are kept only as hashes, no APOP banner
inst.check("passwd", "team", "bob@example.org", stdin=b"bobpass2\n")
with Pop3d(inst, pop3_apop="no", pop3_plaintext_auth="loopback", pop3_login_delay="0") as d:
    p = poplib.POP3("127.0.0.1", d.port, timeout=10)
    t.ok(b"<" not in p.getwelcome(), "pop3_apop = no: greeting without timestamp")
    p.user("bob@example.org/team")
    t.ok(p.pass_("bobpass2").startswith(b"+OK"), "USER/PASS still works with pop3_apop = no")
    p.quit()
inst.check("passwd", "team", "bob@example.org", stdin=b"bobpass3\n")
import sqlite3
db = sqlite3.connect(inst.path("kairan.db"))
row = db.execute("SELECT pop_password, apop_secret FROM members WHERE address = 'bob@example.org'").fetchone()
db.close()
t.ok(row[0].startswith("pbkdf2-sha256$") and row[1] is None,
     "kairan passwd with pop3_apop = no stores only the PBKDF2 hash", row)
log = inst.log()
t.ok("login failed for nobody@example.org/team from 127.0.0.1" in log, "failed logins are logged with user and address")
t.ok(not any(pw in log for pw in ("ann pass 1", "bobpass", "ownerpass", "wrong")),
     "no password (right or wrong) in kairan.log")
t.done()
