#!/usr/bin/env python3
"""test_web_security.py - attacks on the web interface, through `kairan web`
(HTTP) and cgi/kairan.cgi: XSS in subjects, names and search terms shows as
text; state-changing POSTs without (or with a wrong) CSRF token are 403 and
change nothing; a session id planted before login is not accepted after;
path traversal in archive and attachment URLs is 404/400; SQL
metacharacters in the member search are plain text; wrong passwords slow
the address (and the client) down: while the guard's delay runs a login
is answered 429 "try again in N s" unchecked, after it the right password
works (no lockout)."""
import re
import time
import urllib.parse

from kt import *

t = Tap()
OWNER, PW = "owner@example.org", "owner-pass-1"
XSS = "<script>alert(1)</script>"

inst = Instance()
inst.newlist("team", owner=OWNER, password=PW)
inst.subscribe("team", "member@example.org")
inst.config("team", "archive_access", "public")
inst.deliver("team", make_msg(subject=XSS, frm=f'"{XSS}" <member@example.org>', body=f"{XSS}\n"))
inst.config("team", "post_policy", "moderated")
inst.deliver("team", make_msg(subject=f"held {XSS}", frm=f'"<img src=x onerror=alert(2)>" <member@example.org>'))
inst.config("team", "post_policy", "members")

server = WebServer(inst)
try:
    for kind in ("http", "cgi"):
        P = f"[{kind}] "
        mk = (lambda **kw: WebClient(inst, server=server, **kw)) if kind == "http" else (lambda **kw: WebClient(inst, cgi=True, **kw))
        c = mk()
        r = c.login("team", OWNER, PW)
        t.eq(r.status, 303, P + "owner logs in")

        # XSS
        r = c.get("/list/team/archive")
        t.ok(XSS not in r.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text, P + "XSS subject escaped in the archive index")
        r = c.get("/list/team/archive/1")
        t.ok(XSS not in r.text and r.text.count("&lt;script&gt;") >= 3, P + "XSS subject, name and body escaped on the post page")
        r = c.get("/admin/team/held")
        t.ok(XSS not in r.text and "&lt;script&gt;" in r.text, P + "XSS subject escaped in the held list")
        hid = re.search(r'name="id" value="([0-9a-f]+)"', r.text).group(1)
        r = c.get(f"/admin/team/held/{hid}")
        t.ok("<img src=x" not in r.text and "&lt;img src=x" in r.text, P + "XSS display name escaped on the held page")
        r = c.form_post("/admin/team/members", data={"do": "add", "address": f"x{kind}@example.org", "name": XSS})
        t.ok(XSS not in r.text and "&lt;script&gt;" in r.text, P + "XSS member name escaped in the members table")
        r = c.get("/admin/team/members?q=%3Cscript%3E%22%27")
        t.ok("<script>\"'" not in r.text and "&lt;script&gt;&quot;&apos;" in r.text, P + "search term escaped in the form")
        t.ok("default-src 'none'" in (r.header("Content-Security-Policy") or ""), P + "Content-Security-Policy sent")

        # CSRF
        before = inst.check("members", "team")
        for path, data in [("/admin/team/members", {"do": "add", "address": "evil@example.org"}),
                           ("/admin/team/members", {"do": "update", "action": "remove", "member": "member@example.org"}),
                           ("/admin/team/settings", {"post_policy": "anyone"}),
                           ("/admin/team/held", {"id": hid, "action": "approve"}),
                           ("/list/team/subscribe", {"address": "victim@example.org"})]:
            r = c.post(path, data)
            t.eq(r.status, 403, P + f"POST {path} without CSRF token is 403")
            d = dict(data, csrf="0" * 64)
            r = c.post(path, d)
            t.eq(r.status, 403, P + f"POST {path} with a wrong CSRF token is 403")
        t.eq(inst.check("members", "team"), before, P + "members unchanged by the CSRF attempts")
        t.eq(inst.check("config", "team", "post_policy").strip(), "members", P + "settings unchanged by the CSRF attempts")
        t.ok(hid in inst.check("held", "team"), P + "held post still held after the CSRF attempt")
        r = c.post("/logout", {})
        t.eq(r.status, 403, P + "logout without CSRF token is 403")

        r = c.get("/list/team/archive?page=%zz")
        t.eq(r.status, 400, P + "a malformed query string is 400")
        r = c.post("/admin/team/members", raw_body=b"csrf=%G0", content_type="application/x-www-form-urlencoded")
        t.eq(r.status, 400, P + "a malformed form body is 400")

        # session fixation
        fix = "ab" * 32
        v = mk()
        v.cookies["kairan_sid"] = fix
        r = v.login("team", OWNER, PW)
        new = v.cookies.get("kairan_sid")
        t.ok(r.status == 303 and new and new != fix, P + "login issues a new session id, not the planted one")
        a = mk()
        a.cookies["kairan_sid"] = fix
        r = a.get("/admin")
        t.ok(r.status == 303 and "/login" in r.header("Location"), P + "the planted id gives no access after the victim's login")
        r = v.get("/admin")
        t.eq(r.status, 200, P + "the victim's own new session works")

        # expiry: a session past its time is not accepted
        import sqlite3
        db = sqlite3.connect(inst.path("kairan.db"))
        db.execute("UPDATE sessions SET expires = 1 WHERE id = ?", (v.cookies["kairan_sid"],))
        db.commit()
        db.close()
        r = v.get("/admin")
        t.eq(r.status, 303, P + "an expired session is not accepted")

        # path traversal
        for path in ["/list/team/archive/../../../kairan.conf", "/list/team/archive/%2e%2e/%2e%2e/kairan.conf",
                     "/list/team/archive/1/attachment/..%2f..%2f..%2fkairan.db", "/list/team/archive/-1",
                     "/list/team/archive/1/attachment/0", "/list/team/archive/1/attachment/99",
                     "/list/team/archive/01", "/list/..%2fteam/archive", "/list/team%00/archive",
                     "/admin/team/held/..%2f..%2fkairan.conf", "/static/..%2fweb%2flayout.html",
                     "/list/team/archive/1%2f..%2f..%2fkairan.conf"]:
            r = c.get(path)
            t.ok(r.status in (400, 404) and "secret" not in r.text and "[global]" not in r.text,
                 P + f"traversal {path} is {r.status}")

        # SQL metacharacters
        for q in ["' OR 1=1 --", "%", "_", "\\", "\"; DROP TABLE members; --", "member%' OR '1'='1"]:
            r = c.get("/admin/team/members?q=" + urllib.parse.quote(q))
            t.ok(r.status == 200 and "member@example.org" not in r.text.split("<tbody>")[1].split("</tbody>")[0],
                 P + f"search {q!r} matches nothing and does not fail")
        r = c.get("/admin/team/members?q=member%40")
        t.ok("member@example.org" in r.text, P + "a plain search still works")
        t.ok("member@example.org" in inst.check("members", "team"), P + "members table intact")

    # guessing (lib/authguard.c): per address named and per client; delays, no lockout
    c = WebClient(inst, server=server)
    codes = []
    for i in range(5):
        while True:          # each guess waits what the page asks, so that it is checked
            r = c.login("team", OWNER, "bad-%d" % i)
            m = re.search(r"\((\d+) s\)", r.text)
            if r.status != 429 or not m:
                break
            time.sleep(int(m.group(1)))
        codes.append(r.status)
    t.eq(codes, [403] * 5, "five wrong passwords are refused")
    r = c.login("team", OWNER, PW)
    t.eq(r.status, 429, "right after them even the right password is not checked yet (429)")
    m = re.search(r"\((\d+) s\)", r.text)
    t.ok(m and 1 <= int(m.group(1)) <= 15, "the page says how many seconds to wait", r.text[-500:])
    r = WebClient(inst, server=server).login("team", "member@example.org", "nope")
    t.eq(r.status, 429, "the client that just failed five times waits for every address")
    r = WebClient(inst, cgi=True, remote_addr="192.0.2.7").login("team", OWNER, PW)
    t.eq(r.status, 429, "the address named waits from another client too")
    r = WebClient(inst, cgi=True, remote_addr="192.0.2.8").login("team", "member@example.org", "nope")
    t.eq(r.status, 403, "another address from another client is checked at once")
    time.sleep(int(m.group(1)) if m else 2)
    r = WebClient(inst, cgi=True, remote_addr="192.0.2.7").login("team", OWNER, PW)
    t.ok(r.status in (302, 303), "after the delay the owner logs in from another client: no lockout")
    r = c.login("team", OWNER, PW)
    t.ok(r.status in (302, 303), "and from the client that failed")
    t.ok("the guard asks to wait" in inst.log(), "the delayed logins are logged")
finally:
    server.stop()
t.done()
