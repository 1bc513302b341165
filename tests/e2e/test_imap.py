#!/usr/bin/env python3
"""test_imap.py - `kairan imapd` with Python's imaplib: CAPABILITY,
LOGIN and AUTHENTICATE PLAIN (who may log in), LIST/LSUB/NAMESPACE/ID/
ENABLE/STATUS, SELECT and EXAMINE (UIDVALIDITY, UIDNEXT, READ-WRITE and
READ-ONLY), FETCH of bodies byte for byte against the spool, sections,
partials, BINARY, BODYSTRUCTURE and ENVELOPE, flags per member kept
across sessions, EXPUNGE shared with POP3's DELE, SEARCH (Japanese
through the FTS5 index), ESEARCH, SORT, THREAD, IDLE seeing a new post
within a second, the refused write commands, anonymous access to a
public archive, STARTTLS, LOGINDISABLED and IMAPS."""
import base64
import email
import email.policy
import hashlib
import imaplib
import poplib
import re
import socket
import ssl
import tempfile
import time
from email.message import EmailMessage

from kt import Tap, Instance, Imapd, Pop3d, make_msg, self_signed_cert

t = Tap()
inst = Instance()
inst.newlist("team", owner="owner@example.org", password="ownerpass")
inst.subscribe("team", "ann@example.org", "bob@example.org")
inst.config("team", "post_policy", "anyone")
inst.check("passwd", "team", "ann@example.org", stdin=b"ann pass\n")
inst.check("passwd", "team", "bob@example.org", stdin=b"bobpass\n")
ANN, BOB = "ann@example.org/team", "bob@example.org/team"


def post(msg, sender="ann@example.org"):
    r = inst.deliver("team", msg, sender=sender)
    assert r.returncode == 0, r.stderr


post(make_msg(subject="first post", body="Hello list.\n", msgid="<p1@example.org>",
              frm="Ann <ann@example.org>"))
post(make_msg(subject="=?UTF-8?B?5pel5pys6Kqe44Gu5Lu25ZCN?=", body="日本語の本文です。検索できるかな\n",
              frm="Bob <bob@example.org>", msgid="<p2@example.org>").replace(
                  b"Date: Mon, 23 Nov 2026", b"Date: Wed, 25 Nov 2026"), sender="bob@example.org")
att = bytes(range(256)) * 4
m = EmailMessage()
m["From"] = "Ann <ann@example.org>"
m["To"] = "team@lists.example.test"
m["Subject"] = "with attachment"
m["Message-ID"] = "<p3@example.org>"
m["Date"] = "Tue, 24 Nov 2026 10:00:00 +0000"
m.set_content("see the attachment\n")
m.add_attachment(att, maintype="application", subtype="octet-stream", filename="data.bin")
post(m.as_bytes())
post(make_msg(subject="Re: first post", body="A reply.\n", msgid="<p4@example.org>",
              extra="In-Reply-To: <p1@example.org>\nReferences: <p1@example.org>\n"), sender="bob@example.org")
post(make_msg(subject="zebra", body="last one, no reply\n", msgid="<p5@example.org>"))
nums = inst.archive_numbers("team")
t.eq(nums, [1, 2, 3, 4, 5], "five posts archived through kairan deliver")


def spool(n):
    with open(inst.path("spool", "team", "archive", str(n)), "rb") as f:
        return f.read()


def crlf(b):
    return re.sub(rb"(?<!\r)\n", b"\r\n", b)


def digest():
    h = hashlib.sha256()
    for n in nums:          # the five posts (a sixth comes during IDLE)
        h.update(spool(n))
    return h.hexdigest()


def flat(data):
    return b"".join(x if isinstance(x, bytes) else x[0] for x in data if x)


before = digest()
tmp = tempfile.mkdtemp(prefix="kairan-imap-tls-")
cert, key = self_signed_cert(tmp)
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE


def login(port, user=ANN, password="ann pass"):
    c = imaplib.IMAP4("127.0.0.1", port)
    c.login(user, password)
    return c


def fetch_data(c, cmd, *args):
    """the literal payloads of a FETCH/UID FETCH answer, in order."""
    typ, data = c.uid("FETCH", *args) if cmd == "UID" else c.fetch(*args)
    assert typ == "OK", data
    return [d[1] for d in data if isinstance(d, tuple)], data


def raw(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    f = s.makefile("rb")
    return s, f, f.readline()


def refused(call):
    try:
        typ, data = call()
        return f"{typ} {data}"
    except imaplib.IMAP4.error as e:
        return str(e)


with Imapd(inst, tls_cert=cert, tls_key=key, imap_login_delay="0.05") as d:
    # ---- greeting, capabilities, logins ------------------------------
    c = imaplib.IMAP4("127.0.0.1", d.port)
    caps = set(c.capabilities)
    t.ok({"IMAP4REV1", "IDLE", "LITERAL+", "UIDPLUS", "SORT", "THREAD=REFERENCES", "NAMESPACE", "ID",
          "ENABLE", "UNSELECT", "STARTTLS", "AUTH=PLAIN", "ESEARCH", "BINARY"} <= caps,
         "CAPABILITY names IMAP4rev1, IDLE, LITERAL+, STARTTLS, AUTH=PLAIN, SORT, THREAD ...", str(caps))
    t.ok("LOGINDISABLED" not in caps, "no LOGINDISABLED on loopback (imap_plaintext_auth = loopback)")
    e = refused(lambda: c.login(ANN, "wrong"))
    t.ok("AUTHENTICATIONFAILED" in e, "a wrong password is refused with NO [AUTHENTICATIONFAILED]", e)
    for user, pw, what in (("carol@example.org/team", "x", "a non-member"),
                           (ANN, "bobpass", "another member's password"),
                           ("ann@example.org/nosuch", "ann pass", "a list that does not exist"),
                           ("anonymous/team", "", "anonymous on a members-only archive")):
        c2 = imaplib.IMAP4("127.0.0.1", d.port)
        e = refused(lambda: c2.login(user, pw))
        t.ok("AUTHENTICATIONFAILED" in e, f"{what} cannot log in (the same NO)", e)
        c2.shutdown()
    typ, _ = c.login(ANN, "ann pass")
    t.eq(typ, "OK", "LOGIN ADDRESS/LIST with the member's password")
    typ, data = c.capability()
    t.ok("AUTH=PLAIN" not in data[0].decode() and "IDLE" in data[0].decode(),
         "after login CAPABILITY no longer offers AUTH=PLAIN", data)
    typ, data = c.list()
    t.ok(typ == "OK" and data == [b'(\\HasNoChildren) "/" INBOX'], "LIST shows INBOX only", data)
    typ, data = c.list('""', "%")
    t.ok(typ == "OK" and len(data) == 1 and b"INBOX" in data[0], "LIST with % shows INBOX", data)
    typ, data = c.list('""', "Other*")
    t.ok(typ == "OK" and data == [None], "LIST of a pattern matching nothing is empty", data)
    typ, data = c.lsub()
    t.ok(typ == "OK" and b"INBOX" in data[0], "LSUB shows INBOX", data)
    typ, data = c.namespace()
    t.ok(typ == "OK" and data[0] == b'(("" "/")) NIL NIL', "NAMESPACE: one personal namespace", data)
    typ, data = c.xatom("ID", '("name" "test")')
    t.ok(typ == "OK" and b"kairan" in c.untagged_responses.pop("ID", [b""])[0], "ID names the server")
    typ, data = c.enable("UTF8=ACCEPT")
    t.eq(typ, "OK", "ENABLE is answered OK")
    typ, data = c.status("INBOX", "(MESSAGES UIDNEXT UIDVALIDITY UNSEEN RECENT)")
    st = data[0].decode()
    t.ok(typ == "OK" and "MESSAGES 5" in st and "UIDNEXT 6" in st and "UNSEEN 5" in st,
         "STATUS: 5 messages, UIDNEXT 6, 5 unseen", st)
    uidvalidity = int(re.search(r"UIDVALIDITY (\d+)", st).group(1))

    # ---- SELECT ------------------------------------------------------
    typ, data = c.select("INBOX")
    t.ok(typ == "OK" and data == [b"5"], "SELECT INBOX: 5 EXISTS", data)
    t.ok(c.response("READ-WRITE")[1] != [None], "SELECT answers [READ-WRITE]")
    t.eq(int(c.response("UIDVALIDITY")[1][0]), uidvalidity, "SELECT's UIDVALIDITY is STATUS's")
    t.eq(int(c.response("UIDNEXT")[1][0]), 6, "UIDNEXT is the next post number")

    # ---- FETCH -------------------------------------------------------
    bodies, data = fetch_data(c, "UID", "1:*", "(RFC822.SIZE BODY.PEEK[])")
    t.ok(bodies == [crlf(spool(n)) for n in nums], "UID FETCH 1:* BODY.PEEK[] gives every spool file (CRLF) exactly")
    sizes = [int(re.search(rb"RFC822.SIZE (\d+)", d[0]).group(1)) for d in data if isinstance(d, tuple)]
    t.eq(sizes, [len(crlf(spool(n))) for n in nums], "RFC822.SIZE is the CRLF size of each post")
    typ, data = c.fetch("1:*", "(FLAGS)")
    t.ok(all(b"FLAGS ()" in x for x in data), "PEEK set no \\Seen", data)
    (hdr, text), _ = fetch_data(c, "SEQ", "1", "(BODY.PEEK[HEADER] BODY.PEEK[TEXT])")
    t.ok(hdr + text == crlf(spool(1)) and hdr.endswith(b"\r\n\r\n"), "BODY[HEADER] + BODY[TEXT] is the whole post")
    (fields,), _ = fetch_data(c, "SEQ", "1", "(BODY.PEEK[HEADER.FIELDS (Subject Message-ID)])")
    t.ok(sorted(fields.split(b"\r\n")) == sorted([b"Subject: [team:00001] first post", b"Message-ID: <p1@example.org>",
                                                 b"", b""]),
         "BODY[HEADER.FIELDS (Subject Message-ID)] gives just those lines", fields)
    (notf,), _ = fetch_data(c, "SEQ", "1", "(BODY.PEEK[HEADER.FIELDS.NOT (Subject)])")
    t.ok(b"Subject:" not in notf and b"Message-ID: <p1@example.org>" in notf, "HEADER.FIELDS.NOT leaves Subject out")
    (part,), data = fetch_data(c, "SEQ", "1", "(BODY.PEEK[]<10.20>)")
    t.ok(part == crlf(spool(1))[10:30] and b"BODY[]<10>" in data[0][0], "BODY[]<10.20> is octets 10..29", data)
    (part,), _ = fetch_data(c, "SEQ", "1", "(BODY.PEEK[]<100000.5>)")
    t.eq(part, b"", "a partial past the end is empty")
    (whole,), _ = fetch_data(c, "SEQ", "1", "(RFC822.HEADER)")
    t.eq(whole, hdr, "RFC822.HEADER is BODY[HEADER]")
    # the multipart post
    typ, data = c.fetch("3", "(BODYSTRUCTURE ENVELOPE)")
    bs = flat(data).decode()
    t.ok('"MIXED"' in bs and '"APPLICATION" "OCTET-STREAM"' in bs and '"BASE64"' in bs,
         "BODYSTRUCTURE of the post with an attachment: multipart/mixed with application/octet-stream", bs)
    t.ok("with attachment" in bs, "ENVELOPE carries the subject", bs)
    parsed = email.message_from_bytes(spool(3), policy=email.policy.default)
    idx = [i for i, p in enumerate(parsed.iter_parts()) if p.get_filename() == "data.bin"][0] + 1
    (binary,), _ = fetch_data(c, "SEQ", "3", f"(BINARY.PEEK[{idx}])")
    t.eq(binary, att, f"BINARY[{idx}] is the attachment decoded")
    (b64,), data = fetch_data(c, "SEQ", "3", f"(BODY.PEEK[{idx}] BINARY.SIZE[{idx}])")
    t.ok(base64.b64decode(b64) == att, f"BODY[{idx}] is the attachment as encoded")
    t.ok(f"BINARY.SIZE[{idx}] {len(att)}".encode() in flat(data), "BINARY.SIZE is the decoded size", data)
    sizes = re.findall(r'"BASE64" (\d+)', bs)
    t.ok(sizes and int(sizes[-1]) == len(b64), "BODYSTRUCTURE's size of the part is what BODY[N] sends",
         f"{sizes} vs {len(b64)}")
    (mime,), _ = fetch_data(c, "SEQ", "3", f"(BODY.PEEK[{idx}.MIME])")
    t.ok(b"data.bin" in mime and mime.endswith(b"\r\n\r\n"), "BODY[N.MIME] is the part's header", mime)
    typ, data = c.fetch("3", "(BODY.PEEK[9])")
    t.ok(typ == "OK" and b"BODY[9] NIL" in flat(data), "a part that does not exist is NIL", data)
    typ, data = c.fetch("2", "(ENVELOPE)")
    env = flat(data).decode()
    t.ok("=?UTF-8?" in env.upper() and '"Bob"' in env, "ENVELOPE keeps the encoded subject and the author", env)
    typ, data = c.fetch("1", "(BODY[TEXT])")
    t.ok(b"\\Seen" in flat(data), "BODY[TEXT] without PEEK sets \\Seen (and says so)", data)
    typ, data = c.fetch("1:5", "FAST")
    t.ok(typ == "OK" and len(data) == 5 and b"INTERNALDATE \"23-Nov-2026 10:00:00 +0000\"" in data[0],
         "the FAST macro; INTERNALDATE is the post's date", data)

    # ---- STORE and flags kept per member -----------------------------
    typ, data = c.store("2", "+FLAGS", "(\\Flagged todo)")
    t.ok(typ == "OK" and b"\\Flagged" in data[0] and b"todo" in data[0], "STORE +FLAGS (\\Flagged todo)", data)
    typ, data = c.store("2", "-FLAGS.SILENT", "(todo)")
    t.ok(typ == "OK" and data == [None], "STORE -FLAGS.SILENT answers nothing but OK", data)
    typ, data = c.uid("STORE", "4", "+FLAGS", "(\\Answered)")
    t.ok(typ == "OK" and b"UID 4" in data[0], "UID STORE answers with the UID", data)
    e = refused(lambda: c.store("2", "+FLAGS", "(\\Bogus)"))
    t.ok("BAD" in e, "an unknown system flag is refused with BAD", e)
    c.logout()
    c = login(d.port)
    c.select("INBOX")
    typ, data = c.fetch("1:5", "(UID FLAGS)")
    flags = {int(re.search(rb"UID (\d+)", x).group(1)): re.search(rb"FLAGS \(([^)]*)\)", x).group(1) for x in data}
    t.eq(flags, {1: b"\\Seen", 2: b"\\Flagged", 3: b"", 4: b"\\Answered", 5: b""},
         "flags are kept across sessions")
    cb = login(d.port, BOB, "bobpass")
    cb.select("INBOX")
    typ, data = cb.fetch("1:5", "(FLAGS)")
    t.ok(all(b"FLAGS ()" in x for x in data), "another member sees none of ann's flags", data)

    # ---- SEARCH, ESEARCH, SORT, THREAD ------------------------------
    def search(conn, *crit, uid=False, charset=None):
        typ, data = conn.uid("SEARCH", *crit) if uid else conn.search(charset, *crit)
        return typ, [int(x) for x in data[0].split()] if typ == "OK" and data[0] else []

    t.eq(search(c, "ALL"), ("OK", [1, 2, 3, 4, 5]), "SEARCH ALL")
    t.eq(search(c, "SUBJECT", '"first post"'), ("OK", [1, 4]), "SEARCH SUBJECT")
    t.eq(search(c, "FROM", "bob"), ("OK", [2]), "SEARCH FROM (the From: header)")
    t.eq(search(c, "TO", "team@"), ("OK", [1, 2, 3, 4, 5]), "SEARCH TO")
    t.eq(search(c, "FLAGGED"), ("OK", [2]), "SEARCH FLAGGED")
    t.eq(search(c, "UNSEEN"), ("OK", [2, 3, 4, 5]), "SEARCH UNSEEN")
    t.eq(search(c, "NOT", "SEEN", "NOT", "ANSWERED"), ("OK", [2, 3, 5]), "SEARCH NOT ... NOT ...")
    t.eq(search(c, "OR", "FLAGGED", "ANSWERED"), ("OK", [2, 4]), "SEARCH OR")
    t.eq(search(c, "SINCE", "24-Nov-2026"), ("OK", [2, 3]), "SEARCH SINCE (the post's date)")
    t.eq(search(c, "BEFORE", "24-Nov-2026"), ("OK", [1, 4, 5]), "SEARCH BEFORE")
    t.eq(search(c, "ON", "25-Nov-2026"), ("OK", [2]), "SEARCH ON")
    t.eq(search(c, "UID", "2:3"), ("OK", [2, 3]), "SEARCH UID 2:3")
    t.eq(search(c, "2,4:*"), ("OK", [2, 4, 5]), "SEARCH by sequence set")
    t.eq(search(c, "TEXT", "reply"), ("OK", [4, 5]), "SEARCH TEXT through the index")
    t.eq(search(c, "BODY", "attachment"), ("OK", [3]), "SEARCH BODY")
    t.eq(search(c, "KEYWORD", "todo"), ("OK", []), "SEARCH KEYWORD (removed above)")
    c.literal = "本文です".encode()
    t.eq(search(c, "TEXT", charset="UTF-8"), ("OK", [2]), "SEARCH CHARSET UTF-8 TEXT {literal} finds Japanese")
    t.eq(search(c, "TEXT", "日本語".encode(), charset="UTF-8"), ("OK", [2]),
         "SEARCH TEXT with Japanese in the subject and body")
    t.eq(search(c, "SUBJECT", "日本語".encode(), charset="UTF-8"), ("OK", [2]), "SEARCH SUBJECT decodes RFC 2047")
    e = refused(lambda: c.search("KOI8-R", "ALL"))
    t.ok("BADCHARSET" in e, "an unknown charset: NO [BADCHARSET]", e)
    t.eq(search(c, "FLAGGED", uid=True), ("OK", [2]), "UID SEARCH")
    typ, data = c._simple_command("SEARCH", "RETURN", "(MIN MAX COUNT)", "ALL")
    es = c.untagged_responses.pop("ESEARCH", [b""])[0]
    t.ok(typ == "OK" and es.strip() == b"MIN 1 MAX 5 COUNT 5", "ESEARCH RETURN (MIN MAX COUNT)", es)
    typ, data = c.sort("(SUBJECT)", "UTF-8", "ALL")
    order = [int(x) for x in data[0].split()]
    t.eq(order[:3], [1, 4, 3], "SORT (SUBJECT): base subjects, Re: and [tag] ignored")
    typ, data = c.sort("(REVERSE ARRIVAL)", "UTF-8", "ALL")
    t.eq(data[0], b"5 4 3 2 1", "SORT (REVERSE ARRIVAL)")
    typ, data = c.thread("REFERENCES", "UTF-8", "ALL")
    t.ok(typ == "OK" and b"(1 4)" in data[0] and b"(2)" in data[0] and b"(5)" in data[0],
         "THREAD=REFERENCES puts the reply under its post", data)
    typ, data = c.thread("REFERENCES", "UTF-8", "NOT", "UID", "1")
    t.ok(typ == "OK" and b"(4)" in data[0] and b"1" not in data[0], "THREAD of a search without the parent keeps the reply", data)

    # ---- EXPUNGE -----------------------------------------------------
    c.store("3", "+FLAGS", "\\Deleted")
    c.store("5", "+FLAGS", "\\Deleted")
    typ, data = c.uid("EXPUNGE", "5")
    data = c.response("EXPUNGE")[1]
    t.ok(typ == "OK" and data == [b"5"], "UID EXPUNGE 5 expunges only UID 5", data)
    typ, data = c.expunge()
    t.ok(typ == "OK" and data == [b"3"], "EXPUNGE expunges the other \\Deleted post", data)
    typ, data = c.fetch("1:*", "(UID)")
    t.eq([int(re.search(rb"UID (\d+)", x).group(1)) for x in data], [1, 2, 4], "UIDs 3 and 5 are gone for ann")
    c.logout()
    c = login(d.port)
    typ, data = c.select("INBOX")
    t.eq(data, [b"3"], "still gone in a new session")
    cb.logout()
    cb = login(d.port, BOB, "bobpass")
    typ, data = cb.select("INBOX")
    t.eq(data, [b"5"], "another member still sees all five")

    # ---- IDLE: a new post is announced within a second ---------------
    tag = cb._new_tag().decode()
    cb.send(f"{tag} IDLE\r\n".encode())
    cont = cb.readline()
    t.ok(cont.startswith(b"+"), "IDLE is accepted with a continuation", cont)
    post(make_msg(subject="while idling", body="new\n", msgid="<p6@example.org>"))
    posted = time.time()
    cb.sock.settimeout(5)
    line = cb.readline()
    seen = time.time()
    t.ok(line == b"* 6 EXISTS\r\n" and seen - posted < 1.0,
         f"IDLE announces the new post {seen - posted:.2f} s after it was archived", line)
    cb.send(b"DONE\r\n")
    line = cb.readline()
    t.ok(line.startswith(tag.encode() + b" OK"), "DONE ends IDLE", line)
    cb.sock.settimeout(None)
    c.untagged_responses.pop("EXISTS", None)
    typ, data = c.noop()
    t.ok(typ == "OK" and c.untagged_responses.get("EXISTS") == [b"4"], "NOOP tells another session of the new post",
         c.untagged_responses)

    # ---- the archive cannot be written -------------------------------
    for what, call in (("APPEND", lambda: c.append("INBOX", None, None, b"From: x\r\n\r\nx\r\n")),
                       ("CREATE", lambda: c.create("Other")), ("DELETE", lambda: c.delete("INBOX")),
                       ("RENAME", lambda: c.rename("INBOX", "Other")), ("COPY", lambda: c.copy("1", "INBOX")),
                       ("MOVE", lambda: c._simple_command("MOVE", "1", "INBOX"))):
        e = refused(call)
        t.ok(e.startswith("NO ") or "CANNOT" in e, f"{what} answers NO, not BAD", e)
    typ, data = c.select("Other")
    t.eq(typ, "NO", "SELECT of another mailbox: NO")
    typ, data = c.select("INBOX", readonly=True)
    t.ok(typ == "OK" and c.response("READ-ONLY")[1] != [None], "EXAMINE answers [READ-ONLY]")
    e = refused(lambda: c.store("1", "+FLAGS", "\\Flagged"))
    t.ok("READ-ONLY" in e, "STORE after EXAMINE: NO [READ-ONLY]", e)
    typ, data = c.fetch("2", "(BODY[])")
    typ, data = c.fetch("2", "(FLAGS)")
    t.ok(b"\\Seen" not in data[0], "BODY[] after EXAMINE sets no \\Seen", data)
    typ, data = c.unselect()
    t.eq(typ, "OK", "UNSELECT")
    typ, data = c.select("INBOX")
    typ, data = c.close()
    t.eq(typ, "OK", "CLOSE")
    c.logout()
    cb.logout()

    # ---- POP3 and IMAP agree -----------------------------------------
    with Pop3d(inst, pop3_login_delay="0.05") as pd:
        p = poplib.POP3("127.0.0.1", pd.port)
        p.user(ANN)
        p.pass_("ann pass")
        t.eq(p.stat()[0], 4, "POP3 shows ann the 4 posts IMAP left her (3 and 5 expunged)")
        p.quit()
        p = poplib.POP3("127.0.0.1", pd.port)
        p.user(BOB)
        p.pass_("bobpass")
        p.dele(1)
        p.quit()
    cb = login(d.port, BOB, "bobpass")
    typ, data = cb.select("INBOX")
    typ, uids = cb.uid("SEARCH", "ALL")
    t.eq(uids[0], b"2 3 4 5 6", "a post bob deleted over POP3 is gone over IMAP too")
    cb.logout()

    # ---- AUTHENTICATE PLAIN, owner, anonymous ------------------------
    c = imaplib.IMAP4("127.0.0.1", d.port)
    typ, data = c.authenticate("PLAIN", lambda _: f"\0{ANN}\0ann pass".encode())
    t.eq(typ, "OK", "AUTHENTICATE PLAIN")
    c.logout()
    s, f, greet = raw(d.port)
    s.sendall(b"a1 AUTHENTICATE PLAIN " + base64.b64encode(f"\0{BOB}\0bobpass".encode()) + b"\r\n")
    t.ok(f.readline().startswith(b"a1 OK"), "AUTHENTICATE PLAIN with an initial response (SASL-IR)")
    s.close()
    c = login(d.port, "owner@example.org/team", "ownerpass")
    typ, data = c.select("INBOX")
    t.eq(data, [b"6"], "the owner logs in with the owner password and sees the archive")
    c.logout()
    inst.config("team", "archive_access", "public")
    c = login(d.port, "anonymous/team", "anything")
    try:
        c.select("INBOX")
        t.ok(False, "anonymous on a public archive: SELECT is read-only")
    except imaplib.IMAP4.readonly as e:
        t.ok(True, "anonymous on a public archive: SELECT is read-only")
    c.untagged_responses.clear()
    c.select("INBOX", readonly=True)
    typ, data = c.uid("SEARCH", "ALL")
    t.eq(data, [b"1 2 3 4 5 6"], "anonymous sees the whole archive")
    e = refused(lambda: c.store("1", "+FLAGS", "\\Seen"))
    t.ok("READ-ONLY" in e, "anonymous cannot store flags", e)
    c.logout()
    inst.config("team", "archive_access", "owners")
    c = imaplib.IMAP4("127.0.0.1", d.port)
    e = refused(lambda: c.login(ANN, "ann pass"))
    t.ok("AUTHENTICATIONFAILED" in e, "archive_access = owners keeps members out", e)
    c.shutdown()
    inst.config("team", "archive_access", "members")

    # ---- STARTTLS ----------------------------------------------------
    c = imaplib.IMAP4("127.0.0.1", d.port)
    typ, data = c.starttls(ssl_context=ctx)
    t.ok(typ == "OK" and "STARTTLS" not in c.capabilities, "STARTTLS; afterwards not offered again")
    t.eq(c.login(ANN, "ann pass")[0], "OK", "LOGIN over STARTTLS")
    c.logout()
    s, f, greet = raw(d.port)
    s.sendall(b"a1 STARTTLS\r\na2 LOGIN x y\r\n")
    line = f.readline()
    t.ok(line.startswith(b"a1 OK"), "STARTTLS with a pipelined command", line)
    tls = ctx.wrap_socket(s)
    tls.sendall(b"a3 NOOP\r\n")
    line = tls.makefile("rb").readline()
    t.ok(line.startswith(b"a3 OK"), "the command sent in plaintext before the handshake is dropped", line)
    tls.close()

t.eq(digest(), before, "the archive files are unchanged")

# ---- LOGINDISABLED and IMAPS ---------------------------------------
with Imapd(inst, imaps=True, tls_cert=cert, tls_key=key, imap_plaintext_auth="tls", imap_login_delay="0.05") as d:
    c = imaplib.IMAP4("127.0.0.1", d.port)
    t.ok("LOGINDISABLED" in c.capabilities and "AUTH=PLAIN" not in c.capabilities,
         "imap_plaintext_auth = tls: LOGINDISABLED before TLS", str(c.capabilities))
    e = refused(lambda: c.login(ANN, "ann pass"))
    t.ok("PRIVACYREQUIRED" in e, "LOGIN without TLS: NO [PRIVACYREQUIRED]", e)
    c.starttls(ssl_context=ctx)
    t.ok("AUTH=PLAIN" in c.capabilities and "LOGINDISABLED" not in c.capabilities,
         "after STARTTLS AUTH=PLAIN is offered", str(c.capabilities))
    t.eq(c.login(ANN, "ann pass")[0], "OK", "LOGIN after STARTTLS")
    c.logout()
    c = imaplib.IMAP4_SSL("127.0.0.1", d.tls_port, ssl_context=ctx)
    t.eq(c.login(ANN, "ann pass")[0], "OK", "IMAPS (implicit TLS): LOGIN")
    typ, data = c.select("INBOX")
    bodies, _ = fetch_data(c, "UID", "1", "(BODY.PEEK[])")
    t.eq(bodies, [crlf(spool(1))], "IMAPS: UID FETCH BODY.PEEK[] gives the post")
    c.logout()

t.done()
