#!/usr/bin/env python3
"""test_moderation_tools.py - the moderation tools Mailman 3 owners expect
(issue #17, "Moderation"), through a real `kairan relay` (which runs the
real `kairan deliver`) with Postfix's smtp-sink as the outside world:
- pre-approval: an Approved:/Approve: header, or an "Approved: password"
  first body line, with the list password lets a non-member's post skip
  moderation and header filters; the header or line is gone from the
  archived copy and from every member's copy (both halves of a
  multipart/alternative, the HTML one too), in a Japanese ISO-2022-JP post
  (7bit from the corpus and base64) whose other bytes stay as they were,
  with the transfer encodings kept; a wrong password changes nothing (held,
  or posted as without one) but is counted by the guessing guard
  (auth_guard in kairan.db) and never reaches anyone, not even when the
  held post is approved;
- accept/hold/reject/discard_nonmembers: each rule with addresses, *@domain
  globs and ^regexes; discard sends and archives nothing; members are not
  affected; banned still wins;
- header_filters: hold, reject, discard and accept rules, case-insensitive,
  on RFC 2047 decoded values (UTF-8 and ISO-2022-JP encoded words); a bad
  regex is refused by the CLI (exit 64) and by the REST API (422), naming
  the rule."""
import base64
import email
import email.policy
import json
import os
import quopri
import re
import smtplib
import sqlite3
import time

from kt import *

t = Tap()
if not which("smtp-sink"):
    t.skip_all("smtp-sink (postfix) not installed")

OWNER, PW = "owner@example.org", "Mod-Secret-42"
inst = Instance()
inst.newlist("team", owner=OWNER, password=PW)
inst.subscribe("team", "member@example.org", "reader@example.test")
inst.config("team", "dmarc", "off")            # no DNS in the test
inst.config("team", "subject_tag", "")
set_global(inst, auth_guard_free="20")         # no guard delays in this test


def guard_failures():
    db = sqlite3.connect(inst.path("kairan.db"), timeout=30)
    row = db.execute("SELECT failures FROM auth_guard WHERE key = 'acct:team'").fetchone()
    db.close()
    return row[0] if row else 0


def held_rows():
    db = sqlite3.connect(inst.path("kairan.db"), timeout=30)
    rows = db.execute("SELECT id, sender, subject, reason FROM held WHERE list = 'team' ORDER BY created, id").fetchall()
    db.close()
    return rows


def msgid():
    return f"<{os.urandom(8).hex()}@example.org>"


def archived_with(mid):
    """The raw archived copy with Message-ID mid, or None."""
    for n in inst.archive_numbers("team"):
        raw = open(inst.path("spool", "team", "archive", str(n)), "rb").read()
        if mid.encode() in raw:
            return raw
    return None


def copies(mid, timeout=20.0):
    """The copies the sink got of the post with Message-ID mid: {rcpt: raw}."""
    def found():
        return {r: m for _, rs, m in sent() if mid.encode() in m for r in rs}
    wait_for(lambda: len(found()) >= 2, timeout=timeout)
    return found()


def sent():
    """(sender, [rcpts without <>], raw) of every mail the sink got."""
    return [(f, [r.strip("<>") for r in rs], m) for f, rs, m in sink.transactions()]


def post(raw, sender):
    s = smtplib.SMTP("127.0.0.1", relay.port, timeout=60)
    s.ehlo("client.example.org")
    try:
        refused = s.sendmail(sender, [f"team@{DOMAIN}"], raw)
    except smtplib.SMTPException as e:
        refused = e
    s.quit()
    return refused


def mail(subject, frm, body, mid, extra="", ctype="text/plain; charset=utf-8", cte=None):
    head = (f"From: {frm}\nTo: team@{DOMAIN}\nSubject: {subject}\nMessage-ID: {mid}\n"
            f"Date: Mon, 23 Nov 2026 10:00:00 +0000\nMIME-Version: 1.0\n{extra}Content-Type: {ctype}\n")
    if cte:
        head += f"Content-Transfer-Encoding: {cte}\n"
    return head.encode() + b"\n" + (body if isinstance(body, bytes) else body.encode())


def parsed(raw):
    return email.message_from_bytes(raw, policy=email.policy.default)


def crlf_to_lf(b):
    return b.replace(b"\r\n", b"\n")


sink = Sink()
relay = None
try:
    relay = Relay(inst, conf={
        "routes": f"example.test=[127.0.0.1]:{sink.port};example.org=[127.0.0.1]:{sink.port};"
                  f"example.net=[127.0.0.1]:{sink.port}",
        "retry_min": "1", "retry_max": "2"})

    # ---- settings: validation by the CLI ----
    r = inst.run("config", "team", "header_filters", "X-Spam-Flag: YES -> hold; Subject: [unclosed -> reject")
    err = r.stderr.decode()
    t.ok(r.returncode == 64 and "rule 2" in err and "[unclosed" in err and "regular expression" in err,
         "CLI: a bad regex in header_filters exits 64 naming the rule", err)
    r = inst.run("config", "team", "header_filters", "X-Spam-Flag: YES -> bounce")
    t.ok(r.returncode == 64 and "unknown action" in r.stderr.decode(), "CLI: an unknown action is refused",
         r.stderr.decode())
    r = inst.run("config", "team", "accept_nonmembers", "nobody-at-all")
    t.ok(r.returncode == 64 and "accept_nonmembers" in r.stderr.decode(),
         "CLI: a nonmember pattern that is no address, glob or ^regex is refused", r.stderr.decode())
    shown = inst.check("config", "team")
    t.ok(all(f"\n{k} = " in shown for k in ("accept_nonmembers", "hold_nonmembers", "reject_nonmembers",
                                             "discard_nonmembers", "header_filters")),
         "`kairan config LIST` shows the five new settings", shown[-400:])
    r = inst.run("config", "team", "header_filters", "")
    t.eq(r.returncode, 0, "an empty header_filters is accepted")

    # ---- settings: validation by the REST API ----
    tok = inst.run("api-token", "new", "--list", "team").stdout.decode().strip()
    web = WebClient(inst, cgi=True)
    bad = {"header_filters": "X-Spam-Flag: YES -> hold\nX-Mailer: (oops -> discard"}
    resp = web.request("PATCH", "/api/v1/lists/team/settings", raw_body=json.dumps(bad).encode(),
                       headers={"Authorization": "Bearer " + tok}, content_type="application/json")
    body = resp.body.decode(errors="replace") if isinstance(resp.body, bytes) else str(resp.body)
    t.ok(resp.status == 422 and "rule 2" in body and "(oops" in body, "API: a bad regex is answered 422 naming the rule",
         f"{resp.status} {body}")
    good = {"header_filters": "X-Spam-Flag: YES -> hold\nX-Mailer: badmailer -> reject"}
    resp = web.request("PATCH", "/api/v1/lists/team/settings", raw_body=json.dumps(good).encode(),
                       headers={"Authorization": "Bearer " + tok}, content_type="application/json")
    t.eq(resp.status, 200, "API: good rules are stored")
    t.eq(inst.check("config", "team", "header_filters").strip(),
         "X-Spam-Flag: YES -> hold; X-Mailer: badmailer -> reject",
         "rules given on lines are stored joined by '; ' (as the CLI shows them)")
    inst.config("team", "header_filters", "")

    # ================= pre-approval =================
    inst.config("team", "post_policy", "members")      # a non-member would be refused
    before = len(inst.archive_numbers("team"))

    # 1. Approved: header from a non-member
    mid = msgid()
    res = post(mail("approved header", "Guest <guest@example.net>", "Announcement from a guest.\n", mid,
                    extra=f"Approved: {PW}\n"), "guest@example.net")
    t.eq(res, {}, "Approved: header: the relay accepts the post")
    raw = archived_with(mid)
    t.ok(raw is not None, "Approved: header with the list password: a non-member's post is distributed at once")
    t.ok(raw is not None and PW.encode() not in raw and b"\napproved:" not in raw.lower(),
         "the archived copy has no Approved: header and no password", raw[:600] if raw else None)
    got = copies(mid)
    t.ok(set(got) >= {"reader@example.test", "member@example.org"}, "the members got it", sorted(got))
    t.ok(got and all(PW.encode() not in m for m in got.values()), "no member's copy carries the password")

    # 2. Approve: (the other spelling), list with post_policy members-hold; same result
    inst.config("team", "post_policy", "members-hold")
    mid = msgid()
    post(mail("approve header", "guest@example.net", "Second.\n", mid, extra=f"Approve:   {PW}  \n"),
         "guest@example.net")
    raw = archived_with(mid)
    t.ok(raw is not None and PW.encode() not in raw, "Approve: (the other spelling) works too and is removed")
    t.eq(len(held_rows()), 0, "nothing was held so far")

    # 3. Japanese ISO-2022-JP post from the corpus, Approved: as the first body line
    iphone = os.path.join(CORPUS, "japanese", "jpmobile-iphone-jis.eml")
    if not os.path.exists(iphone):
        t.skip("Japanese corpus post with Approved: line", f"{iphone} absent")
    else:
        orig = open(iphone, "rb").read()
        head, sep, body = orig.partition(b"\n\n")
        mid = msgid()
        head = re.sub(rb"(?m)^Message-Id:.*$", b"Message-ID: " + mid.encode(), head)
        head = head.replace(b'To: "info@jpmobile.jp" <info@jpmobile.jp>', f"To: team@{DOMAIN}".encode())
        jp_raw = head + b"\n\n" + f"Approved: {PW}\n\n".encode() + body
        post(jp_raw, "jis@i.softbank.jp")
        raw = archived_with(mid)
        t.ok(raw is not None, "ISO-2022-JP (corpus, iPhone): the Approved: first line lets a non-member's post through")
        if raw:
            m = parsed(raw)
            t.ok(PW.encode() not in raw, "the password is gone from the archived copy")
            # (the SMTP path may add a line end at the very end, with or without Approved:)
            t.eq(crlf_to_lf(m.get_payload(decode=True)).rstrip(b"\n"), crlf_to_lf(body).rstrip(b"\n"),
                 "the rest of the ISO-2022-JP body is byte for byte as it came")
            t.eq(m.get_content_charset(), "iso-2022-jp", "the charset is kept")
            got = copies(mid)
            t.ok(got and all(PW.encode() not in c and crlf_to_lf(parsed(c).get_payload(decode=True)).rstrip(b"\n") == crlf_to_lf(body).rstrip(b"\n")
                             for c in got.values()), "the members' copies: no password, the same Japanese body")
        else:
            for _ in range(4):
                t.ok(False, "the Japanese approved post was archived")

    # 4. Japanese, base64, built here
    text = "こんにちは、皆さん。\n承認済みの投稿です。\n".encode("iso2022_jp")
    b64 = base64.encodebytes(f"\n  \nApproved: {PW}\n\n".encode() + text).decode()
    mid = msgid()
    post(mail("=?ISO-2022-JP?B?" + base64.b64encode("お知らせ".encode("iso2022_jp")).decode() + "?=",
              "Taro <taro@example.net>", b64, mid, ctype="text/plain; charset=ISO-2022-JP", cte="base64"),
         "taro@example.net")
    raw = archived_with(mid)
    t.ok(raw is not None, "ISO-2022-JP in base64 with blank lines before the Approved: line: distributed")
    if raw:
        m = parsed(raw)
        t.eq(m.get_payload(decode=True), text, "the Japanese text is kept byte for byte")
        t.eq(str(m["Content-Transfer-Encoding"]).lower(), "base64", "base64 stays base64")
        t.eq(str(m["Subject"]), "お知らせ", "the Subject is kept")
        t.ok(PW.encode() not in m.get_payload(decode=True) and PW.encode() not in raw, "no password left")
    else:
        for _ in range(4):
            t.ok(False, "the base64 Japanese post was archived")

    # 5. multipart/alternative: both parts carry the line (QP plain, base64 HTML)
    mid = msgid()
    plain = quopri.encodestring(f"Approved: {PW}\n\nMeeting moved to Friday =E2=82=AC.\n".encode()).decode()
    html = base64.encodebytes(f"<html><body><div>Approved:&nbsp;<b>{PW}</b></div>"
                              f"<p>Meeting moved to Friday.</p></body></html>\n".encode()).decode()
    alt = (f"--b1\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n{plain}\n"
           f"--b1\nContent-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: base64\n\n{html}\n--b1--\n")
    post(mail("alternative", "guest@example.net", alt, mid, ctype='multipart/alternative; boundary="b1"'),
         "guest@example.net")
    raw = archived_with(mid)
    t.ok(raw is not None, "multipart/alternative with the line in both parts: distributed")
    if raw:
        m = parsed(raw)
        parts = [p for p in m.walk() if p.get_content_maintype() == "text"]
        t.eq([p.get_content_type() for p in parts], ["text/plain", "text/html"], "both parts are still there")
        t.ok(all(PW.encode() not in p.get_payload(decode=True) for p in parts) and PW.encode() not in raw,
             "the password is gone from both parts (HTML included)")
        t.ok(b"Meeting moved to Friday" in parts[0].get_payload(decode=True) and
             b"<p>Meeting moved to Friday.</p>" in parts[1].get_payload(decode=True), "the rest of both parts is kept")
        t.ok(b"Approved" not in parts[1].get_payload(decode=True), "the HTML part has no Approved: left",
             parts[1].get_payload(decode=True))
        t.eq([str(p["Content-Transfer-Encoding"]).lower() for p in parts], ["quoted-printable", "base64"],
             "the transfer encodings are kept")
    else:
        for _ in range(5):
            t.ok(False, "the multipart/alternative post was archived")

    # 6. the corpus's docomo decomail (multipart/mixed > related > alternative, JIS, QP HTML)
    deco = os.path.join(CORPUS, "japanese", "jpmobile-docomo-decomail.eml")
    if not os.path.exists(deco):
        t.skip("decomail with Approved: in both parts", f"{deco} absent")
    else:
        orig = open(deco, "rb").read()
        mid = msgid()
        s = re.sub(rb"(?m)^Message-ID:.*$", b"Message-ID: " + mid.encode(), orig)
        s = s.replace(b"To: info@jpm-rails.org", f"To: team@{DOMAIN}".encode())
        s = s.replace(b'7bit\r\n\r\n \r\n', f'7bit\r\n\r\nApproved: {PW}\r\n \r\n'.encode(), 1)
        s = s.replace(b"<BODY>", f"<BODY><DIV>Approved: {PW}</DIV>".encode(), 1)
        post(s, "docomo@docomo.ne.jp")
        raw = archived_with(mid)
        t.ok(raw is not None and PW.encode() not in raw, "corpus decomail with the line in plain and HTML: "
             "distributed without the password")
        if raw:
            m = parsed(raw)
            parts = {p.get_content_type(): p.get_payload(decode=True) for p in m.walk()
                     if p.get_content_maintype() in ("text", "image")}
            t.ok("テストです" in parts.get("text/plain", b"").decode("iso2022_jp") and
                 "テストです" in parts.get("text/html", b"").decode("iso2022_jp", "replace") and
                 b"Approved" not in parts.get("text/html", b"x") and "image/gif" in parts,
                 "its Japanese text, HTML and image are kept", parts.keys())
        else:
            t.ok(False, "the decomail was archived")

    # 7. a wrong password in the header: held as without one, counted, never shown
    f0 = guard_failures()
    mid = msgid()
    post(mail("wrong password", "guest@example.net", "Please post this.\n", mid, extra="Approved: not-the-password\n"),
         "guest@example.net")
    rows = held_rows()
    t.ok(archived_with(mid) is None and len(rows) == 1 and rows[0][2] == "wrong password",
         "a wrong Approved: password: the non-member's post is held (as without one)", rows)
    t.eq(guard_failures(), f0 + 1, "the guessing guard counted the wrong password (auth_guard acct:team)")
    spool = open(inst.path("spool", "team", "held", rows[0][0]), "rb").read() if rows else b""
    t.ok(b"Please post this." in spool and b"not-the-password" not in spool and b"Approved:" not in spool,
         "the held copy in the spool has the post without the Approved: header")
    t.ok("wrong Approved: password" in inst.log() and "not-the-password" not in inst.log(),
         "the log says so, without the password")
    notice = wait_for(lambda: any(b"held" in m.lower() and OWNER in rs and b"wrong password" in m
                                  for _, rs, m in sent()), timeout=20)
    notes = [m for _, rs, m in sent() if OWNER in rs and b"wrong password" in m]
    t.ok(notice and notes and all(b"not-the-password" not in n for n in notes),
         "the moderators' notice does not show the wrong password", len(notes))
    hid = rows[0][0] if rows else "none"
    r = inst.run("approve", "team", hid)
    raw = archived_with(mid)
    t.ok(r.returncode == 0 and raw is not None and b"not-the-password" not in raw,
         "approved by a moderator: distributed without the Approved: header", r.stderr)

    # 8. a wrong password in the first body line
    f1 = guard_failures()
    mid = msgid()
    post(mail("wrong line", "guest@example.net", "Approved: guess-2\n\nBody.\n", mid), "guest@example.net")
    rows = held_rows()
    t.ok(archived_with(mid) is None and any(r[2] == "wrong line" for r in rows), "a wrong body-line password: held",
         rows)
    t.eq(guard_failures(), f1 + 1, "and counted by the guard")
    for r in rows:
        inst.run("reject", "team", r[0])

    # 9. a member with a wrong password: posted as without one, without the line
    f2 = guard_failures()
    mid = msgid()
    post(mail("member wrong", "member@example.org", "Approved: guess-3\n\nMember text.\n", mid), "member@example.org")
    raw = archived_with(mid)
    t.ok(raw is not None and b"guess-3" not in raw and b"Member text." in raw,
         "a member's post with a wrong password: distributed as without one, the line removed")
    t.eq(guard_failures(), f2 + 1, "the member's wrong password is counted too")

    # 10. a right password after failures is still accepted (the guard delays, never refuses)
    mid = msgid()
    post(mail("right after wrong", "guest@example.net", f"Approved: {PW}\nok\n", mid), "guest@example.net")
    t.ok(archived_with(mid) is not None, "the right password after wrong ones: distributed")

    # 10b. Approved: skips a member's moderated flag and the size limit, not more
    db = sqlite3.connect(inst.path("kairan.db"), timeout=30)
    with db:
        db.execute("UPDATE members SET moderated = 1 WHERE list = 'team' AND address = 'member@example.org'")
    db.close()
    mid = msgid()
    post(mail("moderated member", "member@example.org", "x\n", mid), "member@example.org")
    t.ok(archived_with(mid) is None and any(r[2] == "moderated member" for r in held_rows()),
         "a moderated member's post is held")
    mid = msgid()
    post(mail("moderated member approved", "member@example.org", f"Approved: {PW}\nx\n", mid), "member@example.org")
    t.ok(archived_with(mid) is not None, "with Approved: it is distributed at once")
    db = sqlite3.connect(inst.path("kairan.db"), timeout=30)
    with db:
        db.execute("UPDATE members SET moderated = 0 WHERE list = 'team'")
    db.close()
    inst.config("team", "max_size", "3000")
    mid = msgid()
    post(mail("too big", "member@example.org", "y" * 70 + "\n" * 1 + ("z" * 70 + "\n") * 60, mid), "member@example.org")
    t.ok(archived_with(mid) is None, "a post over max_size is refused")
    mid = msgid()
    post(mail("too big approved", "member@example.org", f"Approved: {PW}\n" + ("z" * 70 + "\n") * 60, mid),
         "member@example.org")
    t.ok(archived_with(mid) is not None, "with Approved: the size limit does not apply (as Mailman's)")
    inst.config("team", "max_size", "10485760")
    inst.config("team", "html", "reject")
    approvals = inst.log().count("pre-approved")
    mid = msgid()
    post(mail("html approved", "guest@example.net", "<p>hello</p>\n", mid, ctype="text/html",
              extra=f"Approved: {PW}\n"), "guest@example.net")
    t.ok(archived_with(mid) is None, "Approved: does not skip html = reject (a content rule, not moderation)")
    t.eq(inst.log().count("pre-approved"), approvals + 1, "(it was pre-approved, then refused as HTML-only)")
    inst.config("team", "html", "keep")
    for r in held_rows():
        inst.run("reject", "team", r[0], "--quiet")

    # 11. the filter_command (a spam/virus filter) sees the post without the password
    seen = inst.path("filter-saw")
    script = inst.path("filter.sh")
    with open(script, "w") as f:
        f.write(f"#!/bin/sh\ncat > {seen}\nexit 0\n")
    os.chmod(script, 0o755)
    set_global(inst, filter_command=script)
    mid = msgid()
    post(mail("filtered", "guest@example.net", f"Approved: {PW}\n\nFiltered body.\n", mid), "guest@example.net")
    saw = open(seen, "rb").read() if os.path.exists(seen) else b""
    t.ok(archived_with(mid) is not None and b"Filtered body." in saw and PW.encode() not in saw,
         "filter_command gets the post without the Approved: line", saw[-300:])
    set_global(inst, filter_command="")

    # ================= nonmember rules =================
    inst.config("team", "post_policy", "members")
    inst.config("team", "accept_nonmembers", "*@friends.example ^partner-[0-9]+@example\\.net$")
    inst.config("team", "hold_nonmembers", "hold-me@example.net")
    inst.config("team", "reject_nonmembers", "^rej.*@example\\.net$")
    inst.config("team", "discard_nonmembers", "*@spam.example.net spam@example.net member@example.org")
    t.eq(inst.check("config", "team", "accept_nonmembers").strip(),
         "*@friends.example ^partner-[0-9]+@example\\.net$", "patterns are stored as given")

    def outcome(frm, subject, sender=None):
        mid = msgid()
        res = post(mail(subject, frm, f"{subject}\n", mid), sender or frm)
        return mid, res

    mid, _ = outcome("Friend <pal@Friends.Example>", "from a friend")
    t.ok(archived_with(mid) is not None, "accept_nonmembers (*@domain glob, any case): distributed")
    mid, _ = outcome("partner-7@example.net", "from a partner")
    t.ok(archived_with(mid) is not None, "accept_nonmembers (^regex): distributed")
    mid, _ = outcome("partner-x@example.net", "not a partner")
    t.ok(archived_with(mid) is None and not any(r[2] == "not a partner" for r in held_rows()),
         "no rule matches: post_policy members refuses it")
    mid, _ = outcome("hold-me@example.net", "hold this")
    rows = held_rows()
    t.ok(archived_with(mid) is None and any(r[2] == "hold this" and "hold_nonmembers" in r[3] for r in rows),
         "hold_nonmembers: held, the reason names the setting", rows)
    mid, _ = outcome("reject-me@example.net", "reject this")
    got = wait_for(lambda: any("reject-me@example.net" in rs and b"reject this" in m
                               for _, rs, m in sent()), timeout=20)
    t.ok(archived_with(mid) is None and got, "reject_nonmembers: not posted, the sender gets a refusal")
    n_before = len(sink.transactions())
    a_before = inst.archive_numbers("team")
    mid, _ = outcome("Spammer <bulk@spam.example.net>", "discard this")
    mid2, _ = outcome("spam@example.net", "discard that", sender="bounce@elsewhere.example.net")
    time.sleep(3)
    t.ok(inst.archive_numbers("team") == a_before and not any(r[2].startswith("discard") for r in held_rows()),
         "discard_nonmembers: nothing archived, nothing held")
    t.ok(not any(b"discard th" in m for _, _, m in sink.transactions()[n_before:]) and
         not any(b"discard th" in m for _, _, m in sink.transactions()),
         "discard_nonmembers: nothing sent to anyone (no reply, no notice)")
    t.ok("discarded (discard_nonmembers)" in inst.log(), "the discard is logged")
    mid, _ = outcome("member@example.org", "member in discard list")
    t.ok(archived_with(mid) is not None, "a member matching discard_nonmembers is not affected")
    inst.config("team", "banned", "pal@friends.example")
    mid, _ = outcome("pal@friends.example", "banned friend")
    t.ok(archived_with(mid) is None and not any(r[2] == "banned friend" for r in held_rows()),
         "banned is checked first: an accepted non-member who is banned is dropped")
    inst.config("team", "banned", "")
    mid = msgid()
    post(mail("approved hold-me", "hold-me@example.net", f"Approved: {PW}\nhi\n", mid), "hold-me@example.net")
    t.ok(archived_with(mid) is not None, "Approved: skips hold_nonmembers")
    for key in ("accept_nonmembers", "hold_nonmembers", "reject_nonmembers", "discard_nonmembers"):
        inst.config("team", key, "")
    for r in held_rows():
        inst.run("reject", "team", r[0])

    # ================= header filters =================
    rules = ("X-Spam-Flag: YES -> hold\n"
             "Subject: cheap\\s+viagra -> discard\n"
             "Subject: 迷惑 -> reject\n"
             "X-Mailer: ^badmailer -> reject; X-Trusted: ^gateway-ok$ -> accept")
    inst.config("team", "header_filters", rules)

    mid = msgid()
    post(mail("spam flagged", "member@example.org", "x\n", mid, extra="X-Spam-Flag: yes\n"), "member@example.org")
    rows = held_rows()
    t.ok(archived_with(mid) is None and any(r[2] == "spam flagged" and "X-Spam-Flag: YES -> hold" in r[3] for r in rows),
         "X-Spam-Flag: yes (other case) -> hold: a member's post is held, the reason names the rule", rows)

    a_before = inst.archive_numbers("team")
    n_before = len(sink.transactions())
    mid = msgid()
    enc = "=?UTF-8?B?" + base64.b64encode("Cheap   VIAGRA here".encode()).decode() + "?="
    post(mail(enc, "member@example.org", "x\n", mid), "member@example.org")
    time.sleep(2)
    t.ok(inst.archive_numbers("team") == a_before and not any(mid.encode() in m for _, _, m in sink.transactions()),
         "an RFC 2047 (UTF-8) encoded Subject matching a discard rule: dropped, nothing sent")

    mid = msgid()
    jis = "=?ISO-2022-JP?B?" + base64.b64encode("これは迷惑メール".encode("iso2022_jp")).decode() + "?="
    post(mail(jis, "member@example.org", "x\n", mid), "member@example.org")
    got = wait_for(lambda: any("member@example.org" in rs and mid.encode() in m and b"refused" in m.lower()
                               for _, rs, m in sent()), timeout=20)
    t.ok(archived_with(mid) is None and got, "an ISO-2022-JP encoded Subject matching a Japanese regex -> reject: "
         "refused with a reply")

    mid = msgid()
    post(mail("mailer", "member@example.org", "x\n", mid, extra="X-Mailer: BadMailer 2.0\n"), "member@example.org")
    t.ok(archived_with(mid) is None, "X-Mailer: ^badmailer -> reject (the rule after a ';')")

    mid = msgid()
    post(mail("gateway", "outsider@example.net", "x\n", mid, extra="X-Trusted: gateway-ok\n"), "outsider@example.net")
    t.ok(archived_with(mid) is not None, "an accept rule lets a non-member's post through post_policy members")

    mid = msgid()
    post(mail("spam but approved", "member@example.org", "x\n", mid, extra=f"X-Spam-Flag: YES\nApproved: {PW}\n"),
         "member@example.org")
    t.ok(archived_with(mid) is not None, "Approved: skips the header filters")

    mid = msgid()
    post(mail("plain member post", "member@example.org", "x\n", mid), "member@example.org")
    t.ok(archived_with(mid) is not None, "a post no rule matches is distributed")
finally:
    if relay:
        relay.stop()
    sink.cleanup()
t.done()
