#!/usr/bin/env python3
"""test_web.py - the web interface end to end, through both front ends:
HTTP against `kairan web` on a free loopback port, and cgi/kairan.cgi run
with CGI/1.1 environment variables.  The same scenario runs twice: owner
login, overview, members (add one, many, CSV upload, search, flags, roles,
remove, export), held posts (view, approve, reject with reason, discard,
bulk), settings (every key shown, validation errors), archive (index,
thread, a Japanese post, attachment download, archive_access), public
subscribe/unsubscribe confirmed through the mailed link, RFC 8058
one-click, logout, and the 404/405/413 error pages."""
import os
import re
import sqlite3
import urllib.parse

from kt import *

t = Tap()
OWNER, PW = "owner@example.org", "owner-pass-1"


def att_msg(subject, body, filename, data, ctype="application/pdf", extra=""):
    import base64
    b = base64.encodebytes(data).decode()
    return (f"From: Member <member@example.org>\nTo: team@{DOMAIN}\nSubject: {subject}\n"
            f"Message-ID: <{os.urandom(6).hex()}@example.org>\nDate: Mon, 23 Nov 2026 10:00:00 +0000\n{extra}"
            "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=BB\n\n"
            f"--BB\nContent-Type: text/plain; charset=utf-8\n\n{body}\n"
            f"--BB\nContent-Type: {ctype}; name=\"{filename}\"\nContent-Disposition: attachment; filename=\"{filename}\"\n"
            f"Content-Transfer-Encoding: base64\n\n{b}\n--BB--\n").encode()


def scenario(kind):
    inst = Instance()
    inst.newlist("team", owner=OWNER, password=PW)
    inst.subscribe("team", "member@example.org")
    server = None
    try:
        if kind == "http":
            port = free_port()
            set_global(inst, "web_url", f"http://127.0.0.1:{port}")
            server = WebServer(inst, port=port)
            c = WebClient(inst, server=server)
        else:
            set_global(inst, "web_url", "http://www.example.test/cgi-bin/kairan.cgi")
            c = WebClient(inst, cgi=True)
        P = f"[{kind}] "

        r = c.get("/")
        t.ok(r.status == 200 and "team@" in r.text, P + "public index lists the list")
        r = c.get("/admin")
        t.ok(r.status == 303 and r.header("Location").endswith("/login"), P + "/admin without a session redirects to login")

        # login
        r = c.login("team", OWNER, "wrong")
        t.eq(r.status, 403, P + "wrong password refused")
        t.ok("wrong" in r.text, P + "the login page says the password is wrong")
        r = c.login("team", OWNER, PW)
        t.ok(r.status == 303 and r.header("Location").endswith("/admin"), P + "owner login redirects to /admin")
        sc = [h for h in r.header_all("Set-Cookie") if h.startswith("kairan_sid=")]
        t.ok(sc and "HttpOnly" in sc[0] and "SameSite=Strict" in sc[0], P + "session cookie is HttpOnly, SameSite=Strict", sc)

        # overview
        inst.deliver("team", make_msg(subject="first post"))
        r = c.get("/admin")
        t.ok(r.status == 200 and re.search(r'members">1<', r.text) and re.search(r'archive">1<', r.text),
             P + "overview shows members and posts", r.text[-2000:])

        # members: one, many, CSV
        r = c.form_post("/admin/team/members", data={"do": "add", "address": "anna@example.org", "name": "Anna A"})
        t.ok(r.status == 200 and "anna@example.org" in r.text, P + "add one member")
        r = c.form_post("/admin/team/members", data={"do": "add",
                        "addresses": "bob@example.org\nCarol <carol@example.org>\nnot-an-address\ndave@example.org,Dave D"})
        t.ok("bob@example.org" in r.text and "carol@example.org" in r.text and "dave@example.org" in r.text,
             P + "add many pasted members")
        t.ok("not-an-address" in r.text and "Not added" in r.text, P + "an invalid line is reported")
        r = c.form_post("/admin/team/members", data={"do": "add"},
                        files={"csv": ("m.csv", b"address,name\r\neve@example.org,Eve E\r\nfrank@example.org,\"Frank, F\"\r\n")})
        mem = inst.check("members", "team")
        t.ok("eve@example.org" in mem and "frank@example.org" in mem, P + "CSV upload adds members", mem)
        r = c.get("/admin/team/members?q=carol")
        t.ok("carol@example.org" in r.text and "bob@example.org" not in r.text, P + "search finds one member")
        r = c.form_post("/admin/team/members", data={"do": "update", "action": "digest_on", "member": ["bob@example.org"]})
        r = c.form_post("/admin/team/members", data={"do": "update", "action": "nomail_on", "member": ["carol@example.org"]})
        r = c.form_post("/admin/team/members", data={"do": "update", "action": "moderator_on", "member": ["anna@example.org"]})
        t.ok("anna@example.org" in inst.check("config", "team", "moderators"), P + "member made moderator")
        r = c.form_post("/admin/team/members", data={"do": "update", "action": "moderate_on", "member": ["eve@example.org"]})
        t.ok("eve@example.org moderated" in inst.check("members", "team", "--verbose")
             and re.search(r'eve@example\.org.*?<span class="tag warn">moderated</span>', r.text, re.S),
             P + "moderate_on: the member's posts will be held, and the table says so")
        r = c.form_post("/admin/team/members", data={"do": "update", "action": "moderate_off", "member": ["eve@example.org"]})
        t.ok("eve@example.org moderated" not in inst.check("members", "team", "--verbose"), P + "moderate_off clears it")
        r = c.form_post("/admin/team/members", data={"do": "update", "action": "remove", "member": ["frank@example.org"]})
        t.ok("frank@example.org" not in inst.check("members", "team"), P + "member removed")
        r = c.get("/admin/team/members.csv")
        t.ok(r.status == 200 and r.header("Content-Type").startswith("text/csv")
             and "attachment" in (r.header("Content-Disposition") or ""), P + "CSV export is a download")
        rows = r.text.splitlines()
        t.ok(rows[0] == "address,name,delivery,digest" and "bob@example.org,,mail,yes" in rows
             and "carol@example.org,Carol,nomail,no" in rows, P + "CSV export has the import's columns", r.text)

        # held posts
        inst.config("team", "post_policy", "moderated")
        inst.clear_queue()
        inst.deliver("team", make_msg(subject="held one", body="Please approve me.\n"))
        inst.deliver("team", make_msg(subject="held two"))
        inst.deliver("team", make_msg(subject="held three"))
        inst.deliver("team", make_msg(subject="held four"))
        r = c.get("/admin/team/held")
        ids = re.findall(r'name="id" value="([0-9a-f]+)"', r.text)
        t.ok(len(ids) == 4 and "held one" in r.text, P + "four held posts listed", r.text[-1500:])
        m = re.search(r'href="[^"]*/admin/team/held/([0-9a-f]+)">held one', r.text)
        hid = m.group(1) if m else ids[0]
        r = c.get(f"/admin/team/held/{hid}")
        t.ok(r.status == 200 and "Please approve me." in r.text and "member@example.org" in r.text,
             P + "held post shows headers and text")
        before = inst.archive_numbers("team")
        r = c.form_post(f"/admin/team/held/{hid}", "/admin/team/held", data={"id": hid, "action": "approve"})
        t.ok(r.status == 200 and len(inst.archive_numbers("team")) == len(before) + 1, P + "approve distributes the post")
        others = [i for i in ids if i != hid]
        r = c.form_post("/admin/team/held", data={"id": others[0], "action": "reject", "reason": "off topic"})
        rej = [q for q in inst.queue() if "off topic" in q["raw"].decode(errors="replace")]
        t.ok(rej and rej[0]["rcpts"] == ["member@example.org"], P + "reject tells the sender the reason")
        r = c.form_post("/admin/team/held", data={"id": others[1:], "action": "discard"})
        r = c.get("/admin/team/held")
        t.ok("No posts are waiting" in r.text, P + "bulk discard empties the held list")
        inst.config("team", "post_policy", "members")

        # settings
        r = c.get("/admin/team/settings")
        keys = inst.check("config", "team").splitlines()
        t.ok(all(f'name="{k.split(" = ")[0]}"' in r.text for k in keys), P + "settings page has every key")
        r = c.form_post("/admin/team/settings", data={"post_policy": "everybody", "max_size": "12x",
                                                      "subject_tag": "[team:%d %d]", "description": "Team talk"})
        t.eq(r.status, 400, P + "invalid settings answer 400")
        t.ok("valid values: members|anyone|moderated|members-hold" in r.text and "not a number" in r.text,
             P + "validation errors are shown")
        t.eq(inst.check("config", "team", "description").strip(), "Team talk", P + "valid field saved next to invalid ones")
        t.eq(inst.check("config", "team", "post_policy").strip(), "members", P + "invalid value not stored")
        r = c.form_post("/admin/team/settings", data={"post_policy": "anyone", "archive_access": "members"})
        t.ok(r.status == 200 and inst.check("config", "team", "post_policy").strip() == "anyone", P + "setting changed")
        r = c.form_post("/admin/team/settings", data={"footer": "-- \r\nteam <{{address}}> & more\r\n"})
        t.ok(r.status == 200 and inst.check("config", "team", "footer") == "-- \nteam <{{address}}> & more\n",
             P + "footer from a textarea: several lines, CRLF stored as LF")
        r = c.get("/admin/team/settings")
        t.ok('<textarea id="s-footer" name="footer"' in r.text and "team &lt;{{address}}&gt; &amp; more" in r.text,
             P + "the footer is edited in a textarea, HTML-escaped")
        inst.config("team", "footer", "")

        # archive: Japanese, attachment, thread
        jp = os.path.join(CORPUS, "japanese", "rubymail-multi_charset-japanese_iso_2022.eml")
        num_jp = None
        if os.path.exists(jp):
            inst.deliver("team", open(jp, "rb").read(), sender="member@example.org")
            num_jp = inst.archive_numbers("team")[-1]
        pdf = b"%PDF-1.4\n" + os.urandom(300)
        inst.deliver("team", att_msg("with file", "see attached", "r\u00e9sum\u00e9 1.pdf".encode("latin-1").decode("latin-1"), pdf))
        num_att = inst.archive_numbers("team")[-1]
        first = inst.archive("team", 1)
        inst.deliver("team", make_msg(subject="Re: first post", extra=f"In-Reply-To: {first['Message-ID']}\n"))
        num_re = inst.archive_numbers("team")[-1]
        r = c.get("/list/team/archive")
        t.ok(r.status == 200 and "with file" in r.text, P + "archive index lists posts")
        r = c.get("/list/team/archive/thread")
        m = re.search(r'<li class="d1"><span class="num">#(\d+)</span>', r.text)
        t.ok(m and int(m.group(1)) == num_re, P + "thread view indents the reply under its parent")
        if num_jp:
            r = c.get(f"/list/team/archive/{num_jp}")
            t.ok(r.status == 200 and r.header("Content-Type") == "text/html; charset=utf-8", P + "Japanese post page in UTF-8")
            t.ok(re.search(r"[\u3040-\u30ff\u4e00-\u9fff]{3}", r.text) is not None, P + "Japanese text decoded to UTF-8")
        else:
            t.skip(P + "Japanese post", "corpus absent")
            t.skip(P + "Japanese text", "corpus absent")
        r = c.get(f"/list/team/archive/{num_att}")
        m = re.search(rf'href="[^"]*/list/team/archive/{num_att}/attachment/(\d+)"', r.text)
        t.ok(m is not None, P + "post page links its attachment")
        r = c.get(f"/list/team/archive/{num_att}/attachment/{m.group(1) if m else 1}")
        t.ok(r.status == 200 and r.body == pdf and r.header("Content-Type") == "application/pdf",
             P + "attachment downloads with its Content-Type and bytes")
        t.ok((r.header("Content-Disposition") or "").startswith("attachment;"), P + "attachment is Content-Disposition: attachment")

        # full-text search (FTS5, trigram): body, subject, author, Japanese, several words
        tag = kind.upper()
        inst.config("team", "footer", "-- \nqwfooterword for {{list}}, post {{number}}")
        inst.deliver("team", make_msg(subject=f"Quarterly report {tag}", body="The zyxwv numbers are in.\n"))
        n_en = inst.archive_numbers("team")[-1]
        inst.config("team", "footer", "")
        jp_post = (f"From: Hanako <hanako@example.org>\nTo: team@{DOMAIN}\nSubject: jp {tag}\nMIME-Version: 1.0\n"
                   "Content-Type: text/plain; charset=ISO-2022-JP\n\n").encode() + \
            "日本語の会議の議事録です\n".encode("iso-2022-jp")
        if "hanako@example.org" not in inst.check("members", "team"):
            inst.subscribe("team", "hanako@example.org")
        inst.deliver("team", jp_post, sender="hanako@example.org")
        n_jp = inst.archive_numbers("team")[-1]

        def hits(q):
            r = c.get("/list/team/archive/search?" + urllib.parse.urlencode({"q": q}))
            return r.status, [int(x) for x in re.findall(r'<span class="num">#(\d+)</span>', r.text)], r.text
        st, nums, _ = hits("zyxwv")
        t.ok(st == 200 and nums == [n_en], P + "search finds a word of the body", nums)
        t.ok(hits(f"quarterly {tag.lower()}")[1] == [n_en], P + "search: every word must occur (subject, any case)")
        t.ok(hits("zyxwv nosuchword")[1] == [], P + "search: a missing word gives nothing")
        t.ok(n_jp in hits("議事録")[1], P + "search finds a three-character Japanese word (ISO-2022-JP post)")
        t.ok(n_jp in hits("会議")[1], P + "search finds a two-character Japanese word")
        t.ok(n_jp in hits("Hanako")[1], P + "search finds the author's name")
        t.ok(n_en not in hits("team:0")[1], P + "search does not match the subject tag the list adds")
        t.ok("qwfooterword" in inst.archive("team", n_en).get_content() and n_en not in hits("qwfooterword")[1],
             P + "nor the footer the list adds")
        st, nums, text = hits('<script>alert(1)</script>')
        t.ok(st == 200 and "<script>alert(1)</script>" not in text and "&lt;script&gt;" in text,
             P + "the query is shown HTML-escaped")
        # posts archived before the index existed are indexed on first search
        db = sqlite3.connect(inst.path("kairan.db"))
        db.execute("DELETE FROM archive_text WHERE list = 'team'")
        db.execute("UPDATE archive SET text_indexed = 0 WHERE list = 'team'")
        db.commit()
        db.close()
        t.ok(hits("zyxwv")[1] == [n_en] and n_jp in hits("議事録")[1],
             P + "posts without an index row are read from the archive files on the first search")
        r = WebClient(inst, server=server, cgi=(kind == "cgi")).get("/list/team/archive/search?q=zyxwv")
        t.ok(r.status == 303 and "/login" in r.header("Location"), P + "search follows archive_access (login needed)")

        # public subscribe through the mailed link
        anon = WebClient(inst, server=server, cgi=(kind == "cgi"))
        r = anon.get("/list/team/archive")
        t.ok(r.status == 303 and "/login" in r.header("Location"), P + "members-only archive needs a login")
        inst.clear_queue()
        r = anon.form_post("/list/team/subscribe", data={"address": "newbie@example.org", "name": "New Bie"})
        t.ok(r.status == 200 and "confirmation" in r.text, P + "subscribe form sends a confirmation")
        links = confirm_links(inst)
        t.ok(len(links) == 1, P + "confirmation mail carries the web link", links)
        if links:
            path = urllib.parse.urlparse(links[0]).path
            if kind == "cgi":
                path = path[len(WebClient.CGI_BASE):]
            r = anon.get(path)
            t.ok(r.status == 200 and "newbie@example.org" in r.text and "<form" in r.text, P + "confirm link shows a button")
            t.ok("newbie@example.org" not in inst.check("members", "team"), P + "GET alone does not subscribe")
            r = anon.form_post(path)
            t.ok(r.status == 200 and "newbie@example.org" in inst.check("members", "team"), P + "POST confirms the subscription")
            r = anon.form_post(path)
            t.ok(r.status in (400, 404), P + "a used link does not work twice")
        # unsubscribe form -> confirmation
        inst.clear_queue()
        r = anon.form_post("/list/team/unsubscribe", data={"address": "newbie@example.org"})
        t.ok(r.status == 200 and len(confirm_links(inst)) == 1, P + "unsubscribe form mails a confirmation")

        # RFC 8058 one-click
        import hmac, hashlib
        db = sqlite3.connect(inst.path("kairan.db"))
        secret = db.execute("SELECT value FROM meta WHERE key='secret'").fetchone()[0]
        db.close()
        sig = hmac.new(secret.encode(), b"oneclick\nteam\nbob@example.org", hashlib.sha256).hexdigest()[:32]
        bare = WebClient(inst, server=server, cgi=(kind == "cgi"))
        r = bare.post("/list/team/unsubscribe?a=bob%40example.org&s=" + "0" * 32, {"List-Unsubscribe": "One-Click"})
        t.eq(r.status, 403, P + "one-click with a bad signature is refused")
        r = bare.post("/list/team/unsubscribe", {"List-Unsubscribe": "One-Click"})
        t.eq(r.status, 400, P + "one-click without a member is 400")
        r = bare.get(f"/list/team/unsubscribe?a=bob%40example.org&s={sig}")
        t.ok(r.status == 200 and 'value="One-Click"' in r.text and "bob@example.org" in r.text,
             P + "the signed link opened in a browser shows a one-button form")
        t.ok("bob@example.org" in inst.check("members", "team"), P + "GET of the signed link changes nothing")
        r = bare.post(f"/list/team/unsubscribe?a=bob%40example.org&s={sig}", {"List-Unsubscribe": "One-Click"})
        t.ok(r.status == 200 and "bob@example.org" not in inst.check("members", "team"), P + "signed one-click unsubscribes at once")

        # errors
        r = c.request("PUT", "/admin")
        t.ok(r.status == 405 and r.header("Allow"), P + "PUT is 405 with Allow")
        r = c.post("/list/team/archive", {"x": "1"})
        t.eq(r.status, 405, P + "POST to a GET page is 405")
        r = c.get("/logout")
        t.ok(r.status == 405 and r.header("Allow") == "POST", P + "GET /logout is 405, Allow: POST")
        r = c.get("/no/such/page")
        t.ok(r.status == 404 and "Page not found" in r.text, P + "unknown page is a friendly 404")
        if kind == "http":
            import socket
            with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
                s.sendall(b"POST /admin/team/members HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                          b"Content-Length: 5000000\r\n\r\n" + b"x" * 1000)
                head = s.recv(65536).decode(errors="replace")
            t.ok(head.startswith("HTTP/1.1 413"), P + "a body over the limit is 413", head[:200])
        else:
            r = c.post("/admin/team/members", raw_body=b"x" * (4 * 1024 * 1024 + 10), content_type="application/x-www-form-urlencoded")
            t.eq(r.status, 413, P + "a body over the limit is 413")
        r = c.request("HEAD", "/login")
        t.ok(r.status == 200 and r.body == b"", P + "HEAD answers without a body")
        if kind == "http":
            r2 = inst.run("web", "--listen", f"127.0.0.1:{server.port}", timeout=20)
            t.ok(r2.returncode == 75 and b"cannot listen" in r2.stderr, P + "a port in use: exit 75 with a message", r2.stderr)
            r2 = inst.run("web", "--listen", "nonsense")
            t.eq(r2.returncode, 64, P + "a bad --listen is a usage error")
        r = c.get("/login?lang=ja")
        t.ok("ログイン" in r.text and 'lang="ja"' in r.text, P + "pages in Japanese")

        # the instance admin password: every list
        inst.newlist("other", owner="boss@example.org")
        r = inst.run("web", "--set-admin-password", stdin=b"admin-pass-123\n")
        t.ok(r.returncode == 0, P + "kairan web --set-admin-password", r.stderr)
        adm = WebClient(inst, server=server, cgi=(kind == "cgi"))
        r = adm.login("", "root@example.org", "admin-pass-123")
        t.eq(r.status, 303, P + "admin password logs in")
        r = adm.get("/admin")
        t.ok("/admin/other/members" in r.text and "/admin/team/members" in r.text, P + "admin sees every list")
        r = c.get("/admin/other/members")
        t.eq(r.status, 403, P + "an owner of team may not manage other")

        # a member with a POP3 password reads a members-only archive, nothing else
        inst.run("passwd", "team", "member@example.org", stdin=b"pop-pass-1\n")
        mb = WebClient(inst, server=server, cgi=(kind == "cgi"))
        r = mb.login("team", "member@example.org", "pop-pass-1")
        t.ok(r.status == 303 and r.header("Location").endswith("/list/team/archive"), P + "member login goes to the archive")
        t.eq(mb.get("/list/team/archive").status, 200, P + "member reads the members-only archive")
        t.eq(mb.get("/admin/team/members").status, 303, P + "member cannot open the members page")

        # the member's own options page
        r = mb.get("/list/team/options")
        t.ok(r.status == 200 and "member@example.org" in r.text and 'name="digest"' in r.text
             and "/list/team/options" in r.text, P + "a logged-in member sees the options page (linked in the header)")
        r = mb.form_post("/list/team/options", data={"action": "save", "digest": "on", "delivery": "off"})
        flags = [l for l in inst.check("members", "team", "--verbose").splitlines() if l.startswith("member@example.org")]
        t.ok(r.status == 200 and "saved" in r.text and flags and "digest" in flags[0] and "nomail" in flags[0],
             P + "options: digest on and delivery off are saved", flags)
        r = mb.form_post("/list/team/options", data={"action": "save", "digest": "off", "delivery": "on"})
        flags = [l for l in inst.check("members", "team", "--verbose").splitlines() if l.startswith("member@example.org")]
        t.ok(flags and "digest" not in flags[0] and "nomail" not in flags[0], P + "and back", flags)
        r = WebClient(inst, server=server, cgi=(kind == "cgi")).get("/list/team/options")
        t.ok(r.status == 303 and "/login" in r.header("Location"), P + "options without a login: to the login page")
        r = c.get("/list/team/options")
        t.ok(r.status == 303, P + "an owner session is no member session for the options page")
        r = mb.request("POST", "/list/team/options", raw_body=b"action=unsubscribe",
                       content_type="application/x-www-form-urlencoded")
        t.ok(r.status == 403 and "member@example.org" in inst.check("members", "team"), P + "options POST without CSRF: 403")
        leaver = f"leaver-{kind}@example.org"
        inst.subscribe("team", leaver)
        inst.run("passwd", "team", leaver, stdin=b"leave-pass-1\n")
        lv = WebClient(inst, server=server, cgi=(kind == "cgi"))
        lv.login("team", leaver, "leave-pass-1")
        inst.clear_queue()
        r = lv.form_post("/list/team/options", data={"action": "unsubscribe"})
        t.ok(r.status == 200 and leaver not in inst.check("members", "team") and notices(inst, "goodbye", leaver),
             P + "Leave the list: removed at once (the login proved the mailbox), goodbye mail sent")

        # a member sets the POP3 password through a mailed link
        inst.clear_queue()
        pw = WebClient(inst, server=server, cgi=(kind == "cgi"))
        r = pw.form_post("/list/team/password", data={"address": "carol@example.org"})
        r2 = pw.form_post("/list/team/password", data={"address": "stranger@example.org"})
        t.ok(r.status == 200 and r2.status == 200 and r.text.count("on its way") == r2.text.count("on its way") == 1,
             P + "password request answers the same for members and strangers")
        mails = [q for q in inst.queue() if "POP3 password" in str(q["msg"]["Subject"])]
        t.ok(len(mails) == 1 and mails[0]["rcpts"] == ["carol@example.org"], P + "only the member gets the link")
        m = re.search(r"https?://\S+/password/([0-9a-f]{32})", mails[0]["msg"].get_body(("plain",)).get_content()) if mails else None
        t.ok(m is not None, P + "the mail carries the link")
        if m:
            ppath = "/password/" + m.group(1)
            r = pw.form_post(ppath, data={"password": "carol-pop-1", "password2": "carol-pop-2"})
            t.ok(r.status == 400 and "differ" in r.text, P + "two different passwords are refused")
            r = pw.form_post(ppath, data={"password": "carol-pop-1", "password2": "carol-pop-1"})
            t.ok(r.status == 200 and "password is set" in r.text, P + "password set")
            r = pw.form_post(ppath, data={"password": "other-pass-9", "password2": "other-pass-9"})
            t.ok(r.status in (400, 404), P + "the link works once")
            r = WebClient(inst, server=server, cgi=(kind == "cgi")).login("team", "carol@example.org", "carol-pop-1")
            t.eq(r.status, 303, P + "the new password logs the member in")

        # pagination
        c.form_post("/admin/team/members", data={"do": "add",
                    "addresses": "\n".join(f"p{i:03d}@example.org" for i in range(120))})
        r = c.get("/admin/team/members?page=2")
        t.ok("page 2 / 3" in r.text and "p045@example.org" in r.text and "p000@example.org" not in r.text,
             P + "members are paginated")

        # a list in Japanese speaks Japanese to a browser without a preference
        inst.config("other", "language", "ja")
        r = WebClient(inst, server=server, cgi=(kind == "cgi"), lang="fr").get("/list/other/subscribe")
        t.ok('lang="ja"' in r.text and "購読" in r.text, P + "a ja list's pages are in Japanese by default")

        # logout
        r = c.form_post("/admin", "/logout")
        t.ok(r.status == 303, P + "logout")
        r = c.get("/admin")
        t.eq(r.status, 303, P + "after logout /admin needs a login again")
    finally:
        if server:
            server.stop()


scenario("http")
scenario("cgi")
t.done()
