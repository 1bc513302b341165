#!/usr/bin/env python3
"""test_web_import.py - an owner's archive in and out on the web, through
`kairan web` (HTTP) and cgi/kairan.cgi: the mbox upload of
/admin/LIST/import (CSRF, a clear error naming the line that changes
nothing, the size limit of [global] web_max_upload, posts added in date
order after the last one, threaded, found by POP3 and the search, nothing
mailed, no upload file left in HOME/tmp), the streamed download
/admin/LIST/archive.mbox (bytes of `kairan export LIST --mbox`) and
members.csv (bytes of `kairan export LIST --members`)."""
import gzip
import http.client
import poplib

from kt import *

t = Tap()
OWNER, PW = "owner@example.org", "owner-pass-1"


def post(subject, date, mid, body, extra=""):
    return (f"From: Old Member <old@example.org>\nTo: team@{DOMAIN}\nSubject: {subject}\n"
            f"Date: {date}\nMessage-ID: <{mid}>\n{extra}\n{body}")


# three posts out of date order; the oldest is last in the file; the
# reply threads below the first; a quoted ">From " line in a body
MBOX = ("From old@example.org Tue Mar  3 10:00:00 2015\n"
        + post("Middle post", "Tue, 03 Mar 2015 10:00:00 +0000", "mid@old.example",
               "Second by date.\n>From the archives, with love.\nwebimport-needle\n", "In-Reply-To: <first@old.example>\n")
        + "\nFrom old@example.org Wed Mar  4 10:00:00 2015\n"
        + post("Newest post", "Wed, 04 Mar 2015 10:00:00 +0000", "new@old.example", "Third by date.\n")
        + "\nFrom old@example.org Mon Mar  2 10:00:00 2015\n"
        + post("Oldest post", "Mon, 02 Mar 2015 10:00:00 +0000", "first@old.example", "First by date.\n")).encode()
BAD = ("From old@example.org Mon Mar  2 10:00:00 2015\n"
       + post("Good one", "Mon, 02 Mar 2015 10:00:00 +0000", "g@old.example", "fine\n")
       + "\nFrom old@example.org Mon Mar  2 11:00:00 2015\nthis is not mail at all\n").encode()
BAD_LINE = BAD.decode().split("\n").index("this is not mail at all") + 1


def upload(c, content, name="old.mbox", csrf=True):
    data = {"csrf": c.csrf("/admin/team/import")} if csrf else {}
    return c.request("POST", "/admin/team/import", data=data, files={"mbox": (name, content)})


def tmp_files(inst):
    d = inst.path("tmp")
    return [f for f in os.listdir(d) if f.startswith("upload.")] if os.path.isdir(d) else []


def scenario(kind):
    inst = Instance()
    inst.newlist("team", owner=OWNER, password=PW)
    inst.newlist("other", owner="o2@example.org", password="other-pass-1")
    inst.subscribe("team", "member@example.org", "carol@example.org")
    inst.check("passwd", "team", "member@example.org", stdin=b"member-pass\n")
    inst.deliver("team", make_msg(subject="Live post one"))
    inst.deliver("team", make_msg(subject="Live post two"))
    inst.clear_queue()
    set_global(inst, "web_max_upload", "20480")
    server = None
    P = f"[{kind}] "
    try:
        if kind == "http":
            server = WebServer(inst)
            c = WebClient(inst, server=server)
        else:
            c = WebClient(inst, cgi=True)
        r = c.login("team", OWNER, PW)
        t.eq(r.status, 303, P + "owner logs in")
        r = c.get("/admin/team/import")
        t.ok(r.status == 200 and 'enctype="multipart/form-data"' in r.text and 'name="csrf"' in r.text
             and "/admin/team/archive.mbox" in r.text, P + "import page: an upload form with a CSRF token, a download link")
        t.ok("/admin/team/archive.mbox" in c.get("/admin/team/settings").text
             and "/admin/team/members.csv" in c.get("/admin/team/members").text,
             P + "the settings page links the mbox download, the members page the CSV")

        before = inst.archive_numbers("team")
        r = upload(c, MBOX, csrf=False)
        t.ok(r.status == 403 and inst.archive_numbers("team") == before, P + "an upload without the CSRF token is refused")

        r = upload(c, BAD, name="bad.mbox")
        t.ok(r.status == 422 and f"bad.mbox:{BAD_LINE}" in r.text and "not mail" in r.text,
             P + "a post that is not mail: the page names the file and line", r.text[-600:])
        t.eq(inst.archive_numbers("team"), before, P + "... and nothing was added (the good post before it neither)")
        r = upload(c, b"Hello,\nthis is a letter, not an mbox.\n", name="letter.txt")
        t.ok(r.status == 422 and "letter.txt:1" in r.text and "not an mbox" in r.text, P + "not an mbox: line 1 named")

        r = upload(c, MBOX + b"\n" + b"x" * 30000 + b"\n")
        t.ok(r.status == 413 and "web_max_upload" in r.text and "20.0\xa0KiB" in r.text,
             P + "an upload over web_max_upload: 413 naming the limit and the key", (r.status, r.text[-400:]))
        t.eq(inst.archive_numbers("team"), before, P + "... and nothing changed")
        c.lang = "ja"
        r = upload(c, MBOX + b"\n" + b"x" * 30000 + b"\n")
        c.lang = "en"
        t.ok(r.status == 413 and "アップロードの上限" in r.text, P + "... in Japanese for a Japanese browser")

        r = upload(c, MBOX)
        t.ok(r.status == 200 and "3 post(s) added to the archive as numbers 3 to 5" in r.text,
             P + "a good mbox: the page says how many posts and their numbers", r.text[-600:])
        t.eq(inst.archive_numbers("team"), [1, 2, 3, 4, 5], P + "numbered after the last post")
        subjects = [str(inst.archive("team", n)["Subject"]) for n in (3, 4, 5)]
        t.eq(subjects, ["Oldest post", "Middle post", "Newest post"], P + "in date order")
        raw4 = open(inst.path("spool", "team", "archive", "4"), "rb").read()
        t.ok(b"\nFrom the archives, with love.\n" in raw4, P + "mboxrd quoting undone in the archived post")
        t.eq(len(inst.queue()), 0, P + "nothing was mailed")
        t.eq(tmp_files(inst), [], P + "no upload file is left in HOME/tmp")

        r = c.get("/list/team/archive/thread")
        t.ok(re.search(r"Oldest post.*?Middle post", r.text, re.S) is not None, P + "threaded: the reply under its parent")
        r = c.get("/list/team/archive/search?q=webimport-needle")
        t.ok(r.status == 200 and "Middle post" in r.text and "Newest post" not in r.text,
             P + "the search finds an uploaded post", r.text[-1500:])
        with Pop3d(inst) as pd:
            p = poplib.POP3("127.0.0.1", pd.port, timeout=10)
            p.user("member@example.org/team")
            p.pass_("member-pass")
            count = p.stat()[0]
            top = b"\n".join(p.top(3, 0)[1])
            p.quit()
        t.ok(count == 5 and b"Subject: Oldest post" in top, P + "POP3 sees the uploaded posts", (count, top))

        r = c.get("/admin/team/archive.mbox")
        want = inst.run("export", "team", "--mbox").stdout
        t.ok(r.status == 200 and r.header("Content-Type") == "application/mbox"
             and "attachment" in (r.header("Content-Disposition") or ""), P + "archive.mbox is an mbox download")
        t.ok(r.body == want and len(want) > 1000, P + "the download is byte for byte `kairan export team --mbox`",
             (len(r.body), len(want)))
        if kind == "http":
            t.ok(r.header("Content-Length") is None and r.header("Transfer-Encoding") == "chunked",
                 P + "streamed: chunked, no Content-Length")
        else:
            t.ok(r.header("Content-Length") is None, P + "streamed: no Content-Length")
        r = c.request("HEAD", "/admin/team/archive.mbox")
        t.ok(r.status == 200 and r.body == b"", P + "HEAD: no body")

        # the round trip: the download uploaded to another list is the same archive
        c2 = WebClient(inst, server=server, cgi=(kind == "cgi"))
        c2.login("other", "o2@example.org", "other-pass-1")
        t.eq(c2.get("/admin/team/archive.mbox").status, 403, P + "another list's owner may not download")
        r = upload_to(c2, "team", MBOX)
        t.ok(r.status == 403 and inst.archive_numbers("team") == [1, 2, 3, 4, 5] and tmp_files(inst) == [],
             P + "another list's owner may not upload (403 before the body is taken)")
        anon = WebClient(inst, server=server, cgi=(kind == "cgi"))
        r = anon.request("POST", "/admin/team/import", data={"csrf": "x"}, files={"mbox": ("a.mbox", MBOX)})
        t.ok(r.status == 403 and inst.archive_numbers("team") == [1, 2, 3, 4, 5] and tmp_files(inst) == [],
             P + "without a session: 403, nothing spooled")
        # a .mbox.gz (HyperKitty's export): uncompressed first; a broken one is an error
        r = upload_to(c2, "other", gzip.compress(want)[:-40], name="cut.mbox.gz")
        t.ok(r.status == 422 and "cut.mbox.gz: not gzip data, or cut short" in r.text
             and inst.archive_numbers("other") == [], P + "a gzip file cut short: the error says so, nothing added",
             r.text[-500:])
        r = upload_to(c2, "other", gzip.compress(want), name="team.mbox.gz")
        t.ok(r.status == 200 and inst.run("export", "other", "--mbox").stdout.count(b"\nFrom ") == want.count(b"\nFrom "),
             P + "the download, gzip-compressed, uploaded to another list gives every post again")

        inst.check("config", "team", "archive_access", "public")
        r = c.get("/admin/team/members.csv")
        t.eq(r.body, inst.run("export", "team", "--members").stdout,
             P + "members.csv is byte for byte `kairan export team --members`")
        t.eq(r.text.splitlines()[0], "address,name,delivery,digest", P + "members.csv has the import's columns")
    finally:
        if server:
            server.stop()


def upload_to(c, lst, content, name="team.mbox"):
    data = {"csrf": c.csrf(f"/admin/{lst}/import")}
    return c.request("POST", f"/admin/{lst}/import", data=data, files={"mbox": (name, content)})


def chunked_over_limit():
    """A chunked upload (no Content-Length) over the limit is cut off."""
    inst = Instance()
    inst.newlist("team", owner=OWNER, password=PW)
    set_global(inst, "web_max_upload", "100000")
    with WebServer(inst) as server:
        c = WebClient(inst, server=server)
        c.login("team", OWNER, PW)
        tok = c.csrf("/admin/team/import")
        b = "kt-chunked"
        head = (f"--{b}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{tok}\r\n--{b}\r\n"
                f"Content-Disposition: form-data; name=\"mbox\"; filename=\"big.mbox\"\r\n\r\n").encode()

        def gen():
            yield head
            for _ in range(50):
                yield MBOX + b"\n" + b"y" * 4000 + b"\n"
            yield f"\r\n--{b}--\r\n".encode()
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        try:
            conn.request("POST", "/admin/team/import", body=gen(), encode_chunked=True,
                         headers={"Content-Type": f"multipart/form-data; boundary={b}",
                                  "Cookie": "; ".join(f"{k}={v}" for k, v in c.cookies.items())})
            r = conn.getresponse()
            status, text = r.status, r.read().decode(errors="replace")
        except (ConnectionError, http.client.HTTPException) as e:
            status, text = 0, str(e)
        finally:
            conn.close()
        t.ok(status == 413 and "web_max_upload" in text, "[http] a chunked upload over the limit: 413", (status, text[-300:]))
        t.eq(inst.archive_numbers("team"), [], "[http] ... and nothing was added")
        t.eq(tmp_files(inst), [], "[http] ... and its spool file is gone")


for kind in ("http", "cgi"):
    scenario(kind)
chunked_over_limit()
t.done()
