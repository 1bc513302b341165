#!/usr/bin/env python3
"""test_domains.py - several mail domains in one instance (issue 15):
`kairan domain add/remove`, `domains`; three lists called team (the
default domain's, team@a.example, team@b.example) that are separate in
members, settings, archive, held posts, confirmation tokens and their
links (b.example has its own web_url), POP3 and IMAP logins
(ADDRESS/NAME@DOMAIN); the relay accepting RCPT for every domain's list
addresses and delivering a post to team@a.example through its own runner;
`newlist` for an unknown domain refused; `domain remove` refused while the
domain has lists; `aliases --write` output (HOME/aliases and HOME/virtual);
`rmlist NAME@DOMAIN` (spool to removed/NAME@DOMAIN-DATE/, mail afterwards
67); the REST API's lists with their domains; the site admin's
/admin/domains page (list, add with web URL, remove in two steps, CSRF)."""
import imaplib
import json
import os
import poplib
import re
import smtplib

from kt import *

t = Tap()
inst = Instance()
D = DOMAIN                       # the default domain: lists.example.test

# ---- domains ----
r = inst.run("domain", "add", "a.example")
t.ok(r.returncode == 0, "domain add a.example", r.stderr)
r = inst.run("domain", "add", "B.Example", "--web-url", "https://web.b.example/ml/")
t.ok(r.returncode == 0, "domain add B.Example --web-url (stored lower case)", r.stderr)
t.eq(inst.run("domain", "add", "a.example").returncode, 64, "domain add of a domain there already: 64")
t.eq(inst.run("domain", "add", D).returncode, 64, "domain add of the default domain: 64")
r = inst.run("domain", "add", "bad_domain..x")
t.ok(r.returncode == 64 and b"domain" in r.stderr, "domain add of a malformed name: 64", r.stderr)
t.eq(inst.run("domain", "add", "c.example", "--web-url", "ftp://x").returncode, 64, "a web URL that is not http(s): 64")
out = inst.check("domains")
lines = out.splitlines()
t.ok(lines and lines[0].startswith(D) and "(default)" in lines[0], "domains: the default domain first", out)
t.ok(any(l.startswith("a.example") for l in lines) and
     any(l.startswith("b.example") and "https://web.b.example/ml/" in l for l in lines),
     "domains: a.example and b.example with its web URL", out)

# ---- three lists called team ----
inst.newlist("team", owner="owner@example.org")
out_a = inst.check("newlist", "team@a.example", "--owner", "owner-a@example.org")
t.ok('team=a.example:' in out_a and "deliver team@a.example" in out_a and
     re.search(r"^team@a\.example\s+team=a\.example@" + re.escape(D) + "$", out_a, re.M),
     "newlist NAME@DOMAIN prints its alias and virtual lines", out_a)
inst.check("newlist", "team@B.Example", "--owner", "owner-b@example.org")
r = inst.run("newlist", "team@c.example")
t.ok(r.returncode == 64 and b"kairan domain add c.example" in r.stderr,
     "newlist for an unknown domain: 64, naming kairan domain add", r.stderr)
t.eq(inst.run("newlist", "team@a.example").returncode, 64, "newlist of an existing NAME@DOMAIN: 64")
t.eq(inst.check("lists").split(), ["team", "team@a.example", "team@b.example"],
     "lists: NAME for the default domain, NAME@DOMAIN for the others")
t.ok(os.path.isdir(inst.path("spool", "team@a.example", "archive")), "spool/NAME@DOMAIN/ made")

inst.subscribe("team", "dflt@example.org")
inst.subscribe("team@a.example", "ann@example.org", "both@example.org")
inst.subscribe("team@B.EXAMPLE", "bob@example.org", "both@example.org")
t.eq(inst.check("members", "team").split(), ["dflt@example.org"], "members team: the default domain's only")
t.eq(inst.check("members", f"team@{D}").split(), ["dflt@example.org"], "team@<default domain> is team")
t.eq(inst.check("members", "team@a.example").split(), ["ann@example.org", "both@example.org"], "members team@a.example")
t.eq(inst.check("members", "team@b.example").split(), ["bob@example.org", "both@example.org"], "members team@b.example")
t.eq(inst.run("members", "team@c.example").returncode, 67, "members of a list of no domain: 67")
t.eq(inst.run("members", "nosuch@a.example").returncode, 67, "members of no list: 67")
t.eq(inst.run("members", "TEAM@a.example").returncode, 67, "NAME is lower case, as every list name: TEAM@a.example is none")
inst.check("unsubscribe", "team@b.example", "both@example.org")
t.eq(inst.check("members", "team@a.example").split(), ["ann@example.org", "both@example.org"],
     "unsubscribe from team@b.example leaves team@a.example alone")
r = inst.run("subscribe", "team", "team-ctl@a.example")
t.ok(r.returncode == 65, "a list address of another domain cannot become a member (loop)", r.stderr)

# settings
inst.config("team@b.example", "subject_tag", "[B:%05d]")
t.ok("[B:%05d]" in inst.check("config", "team@b.example", "subject_tag"), "config NAME@DOMAIN set")
t.ok("[%s:%05d]" in inst.check("config", "team", "subject_tag") and
     "[%s:%05d]" in inst.check("config", "team@a.example", "subject_tag"), "the other two keep the default tag")

# ---- posts: archive, headers, separation ----
set_global(inst, web_url="https://web.default.example/")
r = inst.deliver("team@a.example", make_msg(subject="to a", frm="ann@example.org", to="team@a.example"),
                 sender="ann@example.org")
t.eq(r.returncode, 0, "post to team@a.example accepted")
m = inst.archive("team@a.example", 1)
t.ok(m is not None, "archived in spool/team@a.example/archive/1")
t.ok(inst.archive("team", 1) is None and inst.archive("team@b.example", 1) is None, "the other archives stay empty")
if m is not None:
    t.eq(m["List-Id"], "<team.a.example>", "List-Id <NAME.DOMAIN>")
    t.eq(m["List-Post"], "<mailto:team@a.example>", "List-Post names the list's own domain")
    t.ok("team-ctl@a.example" in m["List-Help"], "List-Help at LIST-ctl@DOMAIN", m["List-Help"])
    t.eq(str(m["Subject"]), "[team:00001] to a", "subject tag carries NAME, not NAME@DOMAIN")
    t.ok("https://web.default.example/list/team@a.example/unsubscribe" in m["List-Unsubscribe"],
         "a domain without web_url uses [global] web_url", m["List-Unsubscribe"])
q = [x for x in inst.queue() if "X-Kairan-Notice" not in x["msg"]]
t.ok(len(q) == 1 and sorted(q[0]["rcpts"]) == ["ann@example.org", "both@example.org"] and
     q[0]["sender"] == "team-admin@a.example",
     "fan-out: team@a.example's members (not team's, not team@b's), from team-admin@a.example",
     [(x["sender"], x["rcpts"]) for x in q])
inst.clear_queue()
r = inst.deliver("team@b.example", make_msg(subject="to b", frm="bob@example.org", to="team@b.example"),
                 sender="bob@example.org")
m = inst.archive("team@b.example", 1)
t.ok(r.returncode == 0 and m is not None and str(m["Subject"]) == "[B:00001] to b",
     "team@b.example numbers its own posts, with its own subject_tag", r.stderr)
if m is not None:
    t.ok("https://web.b.example/ml/list/team@b.example/unsubscribe" in m["List-Unsubscribe"],
         "b.example's web_url in its lists' List-Unsubscribe", m["List-Unsubscribe"])
r = inst.deliver("team@b.example", make_msg(subject="from a", frm="ann@example.org", to="team@b.example"),
                 sender="ann@example.org")
t.ok(inst.archive("team@b.example", 2) is None, "a member of team@a.example is no member of team@b.example")
inst.clear_queue()

# held posts
inst.config("team@b.example", "post_policy", "moderated")
inst.deliver("team@b.example", make_msg(subject="held one", frm="bob@example.org", to="team@b.example"),
             sender="bob@example.org")
held_b = inst.check("held", "team@b.example")
t.ok("held one" in held_b, "post held on team@b.example", held_b)
t.ok("held one" not in inst.check("held", "team") and "held one" not in inst.check("held", "team@a.example"),
     "the other lists hold nothing")
hid = held_b.split()[0] if held_b.strip() else "x"
t.eq(inst.run("approve", "team@a.example", hid).returncode != 0, True, "team@b.example's held ID is unknown to team@a.example")
r = inst.run("approve", "team@b.example", hid)
t.ok(r.returncode == 0 and inst.archive("team@b.example", 2) is not None, "approve NAME@DOMAIN ID distributes it", r.stderr)
inst.clear_queue()

# confirmation tokens by command mail, and their links
inst.config("team@b.example", "subscribe_policy", "confirm")
inst.config("team", "subscribe_policy", "confirm")
r = inst.deliver("team@b.example", ctl_mail("subscribe", frm="carol@example.org", to="team-ctl@b.example"),
                 sender="carol@example.org", mode="--ctl")
t.eq(r.returncode, 0, "subscribe by mail to team-ctl@b.example")
links = confirm_links(inst)
t.ok(len(links) == 1 and links[0].startswith("https://web.b.example/ml/confirm/"),
     "the confirmation link is at b.example's web_url", links)
inst.clear_queue()
inst.deliver("team", ctl_mail("subscribe", frm="carol@example.org", to=f"team-ctl@{D}"),
             sender="carol@example.org", mode="--ctl")
links_d = confirm_links(inst)
t.ok(len(links_d) == 1 and links_d[0].startswith("https://web.default.example/confirm/"),
     "the default domain's link is at [global] web_url", links_d)
inst.clear_queue()
with WebServer(inst) as web:
    wc = WebClient(inst, web)
    if links:
        path = "/confirm/" + links[0].rsplit("/", 1)[1]   # the link's path below the web_url
        page = wc.form_post(path)
        t.ok("carol@example.org" in inst.check("members", "team@b.example").split(),
             "the b.example token subscribes to team@b.example", page.text[-400:])
        t.ok("carol@example.org" not in inst.check("members", "team").split() and
             "carol@example.org" not in inst.check("members", "team@a.example").split(),
             "... and to no other team")
    # the web takes NAME@DOMAIN in its paths
    r = wc.get("/list/team@a.example")
    t.ok(r.status == 200 and "team" in r.text, "/list/NAME@DOMAIN answers", r.status)
    r = wc.get("/list/team%40b.example")
    t.eq(r.status, 200, "/list/NAME%40DOMAIN answers")
    t.eq(wc.get("/list/team@c.example").status, 404, "/list/ of no such list: 404")
inst.config("team@b.example", "subscribe_policy", "open")
inst.config("team", "subscribe_policy", "open")

# ---- POP3 and IMAP logins ADDRESS/NAME@DOMAIN ----
inst.check("passwd", "team@a.example", "both@example.org", stdin=b"pass-for-a\n")
inst.check("passwd", "team@b.example", "bob@example.org", stdin=b"pass-for-b\n")
with Pop3d(inst) as pd:
    p = poplib.POP3("127.0.0.1", pd.port, timeout=30)
    p.user("both@example.org/team@a.example")
    p.pass_("pass-for-a")
    t.eq(p.stat()[0], 1, "POP3 both@example.org/team@a.example sees team@a.example's one post")
    p.quit()
    p = poplib.POP3("127.0.0.1", pd.port, timeout=30)
    p.user("bob@example.org/team@B.Example")
    p.pass_("pass-for-b")
    t.eq(p.stat()[0], 2, "POP3 bob@example.org/team@B.Example sees team@b.example's two posts")
    p.quit()
    p = poplib.POP3("127.0.0.1", pd.port, timeout=30)
    p.user("both@example.org/team@b.example")
    try:
        p.pass_("pass-for-a")
        t.ok(False, "POP3: the password of team@a.example does not open team@b.example")
    except poplib.error_proto:
        t.ok(True, "POP3: the password of team@a.example does not open team@b.example")
    try:
        p.quit()
    except Exception:
        pass
with Imapd(inst) as im:
    c = imaplib.IMAP4("127.0.0.1", im.port, timeout=30)
    typ, _ = c.login("bob@example.org/team@b.example", "pass-for-b")
    typ, data = c.select("INBOX")
    t.ok(typ == "OK" and int(data[0]) == 2, "IMAP bob@example.org/team@b.example: INBOX has 2 posts", data)
    typ, _ = c.store("1", "+FLAGS", "(\\Flagged)")
    t.eq(typ, "OK", "IMAP: a flag stored on team@b.example's post 1")
    c.logout()
    c = imaplib.IMAP4("127.0.0.1", im.port, timeout=30)
    try:
        c.login("bob@example.org/team@a.example", "pass-for-b")
        t.ok(False, "IMAP: bob is no member of team@a.example")
    except imaplib.IMAP4.error:
        t.ok(True, "IMAP: bob is no member of team@a.example")
    c.logout()

# ---- the relay ----
inst.clear_queue()
sink = Sink()
relay = None
try:
    relay = Relay(inst, conf={"routes": f"example.org=[127.0.0.1]:{sink.port}",
                              "mynetworks": "192.0.2.0/24", "retry_min": "1", "retry_max": "2"})
    s = smtplib.SMTP("127.0.0.1", relay.port, timeout=30)
    s.ehlo("client.example.org")
    s.docmd("MAIL FROM:<ann@example.org>")
    for rcpt in ("team@a.example", "team-ctl@a.example", "team-admin@b.example", "team-admin+x=y@b.example",
                 "TEAM@B.EXAMPLE", f"team@{D}"):   # SMTP local parts of lists: any case
        code, msg = s.docmd(f"RCPT TO:<{rcpt}>")
        t.eq(code, 250, f"relay: RCPT <{rcpt}> 250")
    code, msg = s.docmd("RCPT TO:<nosuch@b.example>")
    t.ok(code == 550 and msg.startswith(b"5.1.1"), "relay: unknown list of an added domain 550 5.1.1", msg)
    code, msg = s.docmd("RCPT TO:<team@c.example>")
    t.ok(code == 550 and msg.startswith(b"5.7.1"), "relay: a domain not ours is relaying: 550 5.7.1", msg)
    s.rset()
    refused = s.sendmail("ann@example.org", ["team@a.example"],
                         make_msg(subject="by smtp", frm="ann@example.org", to="team@a.example"))
    t.eq(refused, {}, "relay: post to team@a.example accepted")
    s.quit()
    t.ok(sink.wait_recipients(1), "the relay delivered it to team@a.example and fanned it out", sink.recipients())
    t.eq(sorted(x.strip("<>") for x in sink.recipients()), ["ann@example.org", "both@example.org"],
         "... to its members only")
    t.ok(inst.archive("team@a.example", 2) is not None, "... archived as team@a.example's post 2")
finally:
    if relay:
        relay.stop()
    sink.stop()

# ---- aliases --write ----
r = inst.run("aliases", "--write")
t.eq(r.returncode, 0, "aliases --write")
aliases = open(inst.path("aliases")).read()
virtual = open(inst.path("virtual")).read()
home = inst.home
for key, arg in (("team", "team"), ("team-ctl", "--ctl team"), ("team-admin", "--admin team"),
                 ("team=a.example", "team@a.example"), ("team-ctl=a.example", "--ctl team@a.example"),
                 ("team-admin=b.example", "--admin team@b.example")):
    t.ok(re.search(rf'^{re.escape(key)}:\s+"\|\S+ --home {re.escape(home)} deliver {re.escape(arg)}"$', aliases, re.M),
         f"HOME/aliases: {key}", aliases)
for addr, key in (("team@a.example", "team=a.example"), ("team-ctl@b.example", "team-ctl=b.example"),
                  ("team-admin@a.example", "team-admin=a.example")):
    t.ok(re.search(rf"^{re.escape(addr)}\s+{re.escape(key)}@{re.escape(D)}$", virtual, re.M),
         f"HOME/virtual: {addr} -> {key}@{D}", virtual)
t.ok(re.search(r"^a\.example\s", virtual, re.M) and re.search(r"^b\.example\s", virtual, re.M),
     "HOME/virtual names each domain with lists (a virtual alias domain)", virtual)
t.ok(not re.search(rf"^team@{re.escape(D)}", virtual, re.M) and "team@" not in aliases.split("deliver")[0],
     "the default domain's lists are in HOME/aliases only")

# ---- export and import with NAME@DOMAIN ----
r = inst.run("export", "team@a.example", "--members")
t.ok(r.returncode == 0 and b"ann@example.org" in r.stdout and b"dflt@example.org" not in r.stdout,
     "export NAME@DOMAIN --members: that list's members", r.stdout[:300])
r = inst.run("export", "team@a.example", "--mbox")
mb = inst.path("a.mbox")
open(mb, "wb").write(r.stdout)
inst.check("newlist", "copy@a.example")
r = inst.run("import", "mbox", mb, "--as", "copy@a.example")
t.ok(r.returncode == 0 and inst.archive("copy@a.example", 1) is not None and inst.archive("copy", 1) is None,
     "import mbox --as NAME@DOMAIN adds the posts to that list", r.stderr)
r = inst.run("import", "mbox", mb, "--as", "copy@c.example")
t.ok(r.returncode != 0 and b"kairan domain add c.example" in r.stderr, "import --as of a domain not ours is refused",
     r.stderr)
inst.check("rmlist", "copy@a.example", "--purge")

# ---- REST API ----
tok = inst.check("api-token", "new").strip()
ltok = inst.check("api-token", "new", "--list", "team@b.example").strip()
with WebServer(inst) as web:
    def api(method, path, token=tok, body=None):
        wc = WebClient(inst, web)
        h = {"Authorization": "Bearer " + token}
        data = json.dumps(body).encode() if body is not None else None
        r = wc.request(method, path, headers=h, raw_body=data, content_type="application/json" if data else None)
        try:
            return r.status, json.loads(r.body) if r.body else None
        except ValueError:
            return r.status, None
    st, lists = api("GET", "/api/v1/lists")
    got = sorted((x["name"], x["domain"], x["address"]) for x in lists or [])
    t.eq(got, [("team", "a.example", "team@a.example"), ("team", "b.example", "team@b.example"),
               ("team", D, f"team@{D}")], "API GET /lists: name, domain and address of each")
    st, mem = api("GET", "/api/v1/lists/team%40a.example/members")
    t.ok(st == 200 and sorted(x["address"] for x in mem["members"]) == ["ann@example.org", "both@example.org"],
         "API members of team%40a.example", mem)
    st, _ = api("POST", "/api/v1/lists", body={"name": "news", "domain": "a.example", "owner": "o@example.org"})
    t.ok(st == 201 and "news@a.example" in inst.check("lists").split(), "API POST /lists with a domain", st)
    st, err = api("POST", "/api/v1/lists", body={"name": "news", "domain": "c.example", "owner": "o@example.org"})
    t.eq(st, 422, "API POST /lists for a domain not ours: 422")
    st, _ = api("GET", "/api/v1/lists/team@b.example", token=ltok)
    t.eq(st, 200, "a token of team@b.example reads team@b.example")
    st, _ = api("GET", "/api/v1/lists/team@a.example", token=ltok)
    t.eq(st, 403, "... but not team@a.example")
    st, _ = api("DELETE", "/api/v1/lists/news@a.example")
    t.ok(st == 204 and "news@a.example" not in inst.check("lists").split(), "API DELETE of NAME@DOMAIN")

# ---- domain remove, rmlist NAME@DOMAIN ----
r = inst.run("domain", "remove", "b.example")
t.ok(r.returncode == 64 and b"team@b.example" in r.stderr, "domain remove while it has lists: 64, naming them", r.stderr)
t.eq(inst.run("domain", "remove", "nosuch.example").returncode, 67, "domain remove of no such domain: 67")
t.eq(inst.run("domain", "remove", D).returncode, 64, "domain remove of the default domain: 64")
r = inst.run("rmlist", "team@b.example")
t.ok(r.returncode == 0, "rmlist team@b.example", r.stderr)
removed = [x for x in os.listdir(inst.path("removed")) if x.startswith("team")] \
    if os.path.isdir(inst.path("removed")) else []
t.ok(len(removed) == 1 and re.fullmatch(r"team@b\.example-\d{8}-\d{6}", removed[0]) and
     os.path.exists(inst.path("removed", removed[0], "archive", "1")),
     "its spool is removed/team@b.example-DATE/ with the archive", removed)
t.eq(inst.check("lists").split(), ["team", "team@a.example"], "the other two lists remain")
import sqlite3
dbc = sqlite3.connect(inst.path("kairan.db"))
left = {tb: dbc.execute(f"SELECT COUNT(*) FROM {tb} WHERE list = 'team@b.example'").fetchone()[0]
        for tb in ("members", "list_settings", "archive", "held", "tokens", "imap_flags", "api_tokens")}
dbc.close()
t.eq(left, {k: 0 for k in left}, "no row of team@b.example is left (IMAP flags and API tokens included)")
t.eq(inst.check("members", "team@a.example").split(), ["ann@example.org", "both@example.org"],
     "team@a.example keeps its members")
t.ok(inst.archive("team@a.example", 1) is not None, "... and its archive")
r = inst.deliver("team@b.example", make_msg(to="team@b.example"), sender="bob@example.org")
t.eq(r.returncode, 67, "mail to the removed list: 67")
virtual = open(inst.path("virtual")).read()
t.ok("team@b.example" not in virtual and not re.search(r"^b\.example\s", virtual, re.M) and
     "team@a.example" in virtual, "HOME/virtual written again without it", virtual)
r = inst.run("domain", "remove", "b.example")
t.ok(r.returncode == 0 and "b.example" not in inst.check("domains"), "domain remove once it has no lists", r.stderr)
r = inst.run("newlist", "team@b.example")
t.eq(r.returncode, 64, "newlist in a removed domain: refused")

# ---- the site admin's /admin/domains ----
inst.run("web", "--set-admin-password", stdin=b"admin-pass-123\n")
with WebServer(inst) as web:
    wc = WebClient(inst, web)
    t.ok(wc.get("/admin/domains").status in (302, 303), "/admin/domains without a login: to the login page")
    owner = WebClient(inst, web)
    inst.check("passwd", "team", stdin=b"owner-pass-1\n")
    owner.login("team", "owner@example.org", "owner-pass-1")
    t.eq(owner.get("/admin/domains").status, 403, "a list owner may not manage domains: 403")
    r = wc.login("", "admin@example.org", "admin-pass-123")
    r = wc.get("/admin/domains")
    t.ok(r.status == 200 and D in r.text and "a.example" in r.text, "the admin sees the domains", r.status)
    csrf = wc.csrf("/admin/domains")
    r = wc.post("/admin/domains", {"action": "add", "domain": "c.example", "web_url": "https://c.example/"})
    t.eq(r.status, 403, "add without the CSRF token: 403")
    t.ok("c.example" not in inst.check("domains"), "... and nothing added")
    r = wc.post("/admin/domains", {"csrf": csrf, "action": "add", "domain": "C.example", "web_url": "https://c.example/"})
    t.ok(r.status == 200 and "c.example" in inst.check("domains") and "https://c.example/" in inst.check("domains"),
         "add with CSRF and a web URL", r.status)
    r = wc.post("/admin/domains", {"csrf": csrf, "action": "add", "domain": "bad..name"})
    t.ok(r.status == 400 and 'class="alert error"' in r.text, "a malformed domain: 400 with the reason", r.status)
    r = wc.post("/admin/domains", {"csrf": csrf, "action": "remove_ask", "domain": "c.example"})
    t.ok(r.status == 200 and 'id="confirm-remove"' in r.text and "c.example" in inst.check("domains"),
         "Remove asks for a confirmation first (nothing removed yet)", r.status)
    r = wc.post("/admin/domains", {"csrf": csrf, "action": "remove", "domain": "c.example"})
    t.ok(r.status == 400 and "c.example" in inst.check("domains"), "remove without the tick: refused", r.status)
    r = wc.post("/admin/domains", {"action": "remove", "domain": "c.example", "confirm": "yes"})
    t.ok(r.status == 403 and "c.example" in inst.check("domains"), "remove without the CSRF token: 403")
    r = wc.post("/admin/domains", {"csrf": csrf, "action": "remove", "domain": "c.example", "confirm": "yes"})
    t.ok(r.status == 200 and "c.example" not in inst.check("domains"), "remove with the tick and CSRF", r.status)
    r = wc.post("/admin/domains", {"csrf": csrf, "action": "remove", "domain": "a.example", "confirm": "yes"})
    t.ok(r.status == 409 and "team@a.example" in r.text and "a.example" in inst.check("domains"),
         "remove of a domain with lists: 409 naming them", r.status)
    r = wc.get("/admin/team@a.example/members")
    t.ok(r.status == 200 and "ann@example.org" in r.text, "the admin pages take NAME@DOMAIN", r.status)
t.done()
