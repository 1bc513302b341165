#!/usr/bin/env python3
"""test_web_hosts.py - several domains on the web (s12-webfix), through
both front ends (`kairan web` over HTTP and cgi/kairan.cgi), the Host
header sent as a browser sends it: the public home page of a domain's own
web_url host (any case, any port) lists only that domain's lists and its
footer names that domain; the host of [global] web_url, or a host no
domain has, lists the default domain's lists and those of domains without
a web_url of their own; the overview of an owner and of the site admin
names a list of another domain NAME@DOMAIN, with links that work; the
site admin's create form has a domain select (the default domain first
and picked) and creates NAME@DOMAIN, refuses an unknown domain and a
duplicate, and checks CSRF as before."""
import re

from kt import *

t = Tap()
OWNER, PW = "owner@example.org", "owner-pass-1"
ADMIN_PW = "site-admin-pass-1"


def home_lists(c, host):
    r = c.get("/", headers={"Host": host})
    names = re.findall(r'<h2><a href="[^"]*/list/([^"/]+)">', r.text)
    foot = re.search(r"<footer>(.*?)</footer>", r.text, re.S)
    return r.status, sorted(names), foot.group(1) if foot else ""


def scenario(kind):
    inst = Instance()
    inst.check("domain", "add", "a.example", "--web-url", "https://lists.a.example/ml")
    inst.check("domain", "add", "b.example")
    inst.newlist("team", owner=OWNER, password=PW)
    inst.newlist("team@a.example", owner=OWNER, password=PW)
    inst.newlist("news@a.example", owner="boss@example.org", password="boss-pass-1")
    inst.newlist("other@b.example", owner="boss@example.org", password="boss-pass-1")
    r = inst.run("web", "--set-admin-password", stdin=(ADMIN_PW + "\n").encode())
    t.ok(r.returncode == 0, f"[{kind}] kairan web --set-admin-password", r.stderr)
    set_global(inst, "web_url", "https://www.example.test/kairan")
    server = None
    try:
        if kind == "http":
            server = WebServer(inst)
            new = lambda: WebClient(inst, server=server)
        else:
            new = lambda: WebClient(inst, cgi=True)
        P = f"[{kind}] "
        c = new()

        # ---- the home page follows the Host ----
        st, names, foot = home_lists(c, "lists.a.example")
        t.eq((st, names), (200, ["news@a.example", "team@a.example"]),
             P + "Host of a.example's web_url: only a.example's lists")
        t.ok("a.example" in foot and DOMAIN not in foot, P + "and the footer names a.example", foot)
        st, names, foot = home_lists(c, "LISTS.A.Example:8443")
        t.eq(names, ["news@a.example", "team@a.example"], P + "the Host in another case and with a port: the same")
        st, names, foot = home_lists(c, "www.example.test")
        t.eq(names, ["other@b.example", "team"],
             P + "Host of [global] web_url: the default domain's lists and b.example's (no web_url of its own)")
        t.ok(DOMAIN in foot and "a.example" not in foot, P + "and the footer names the default domain", foot)
        st, names, foot = home_lists(c, "unknown.example:80")
        t.eq(names, ["other@b.example", "team"], P + "a Host no domain has: the default site")
        r = c.get("/login", headers={"Host": "lists.a.example"})
        foot = re.search(r"<footer>(.*?)</footer>", r.text, re.S).group(1)
        t.ok(r.status == 200 and "a.example" in foot, P + "the login page's footer names a.example too", foot)

        # ---- an owner's overview: NAME@DOMAIN ----
        o = new()
        r = o.form_post("/login", data={"address": OWNER, "password": PW})
        t.eq(r.status, 303, P + "the owner of team and team@a.example logs in")
        r = o.get("/admin", headers={"Host": "lists.a.example"})
        shown = sorted(re.findall(r"<td><strong>([^<]+)</strong>", r.text))
        t.eq(shown, ["team", "team@a.example"], P + "the overview names the other domain's list NAME@DOMAIN")
        t.eq(o.get("/admin/team@a.example/settings").status, 200, P + "its settings link works")

        # ---- the site admin ----
        a = new()
        r = a.form_post("/login", data={"address": "root@example.org", "password": ADMIN_PW})
        t.eq(r.status, 303, P + "the site admin logs in")
        r = a.get("/admin", headers={"Host": "lists.a.example"})
        shown = sorted(re.findall(r"<td><strong>([^<]+)</strong>", r.text))
        t.eq(shown, ["news@a.example", "other@b.example", "team", "team@a.example"],
             P + "the site admin's overview: every list, whatever the Host, NAME@DOMAIN")
        r = a.get("/admin/site")
        sel = re.search(r'<select name="domain" id="new-domain">(.*?)</select>', r.text, re.S)
        opts = re.findall(r'<option value="([^"]*)"( selected)?>([^<]+)</option>', sel.group(1)) if sel else []
        t.eq([(v, n) for v, _, n in opts], [("", DOMAIN), ("a.example", "a.example"), ("b.example", "b.example")],
             P + "the create form has a domain select fed by the domains, the default first")
        t.ok(opts and not any(s for _, s, _ in opts[1:]), P + "the default domain is picked")
        r = a.post("/admin/site", {"action": "create", "name": "fresh", "domain": "a.example", "owner": "x@example.org"})
        t.ok(r.status == 403 and "fresh@a.example" not in inst.check("lists").split(),
             P + "without the CSRF token: 403, nothing created")
        r = a.form_post("/admin/site", data={"action": "create", "name": "fresh", "domain": "a.example",
                                             "owner": "fresh-owner@example.org"})
        t.ok(r.status == 200 and "List created: fresh@a.example" in r.text, P + "fresh created in a.example", r.status)
        t.ok("fresh@a.example" in inst.check("lists").split() and "fresh" not in inst.check("lists").split(),
             P + "kairan lists shows fresh@a.example (not fresh)")
        t.eq(inst.check("config", "fresh@a.example", "owners").strip(), "fresh-owner@example.org", P + "with its owner")
        t.eq(home_lists(c, "lists.a.example")[1], ["fresh@a.example", "news@a.example", "team@a.example"],
             P + "a.example's home page lists it")
        r = a.form_post("/admin/site", data={"action": "create", "name": "fresh", "owner": "plain@example.org"})
        t.ok(r.status == 200 and "fresh" in inst.check("lists").split(), P + "no domain sent: the default domain")
        r = a.form_post("/admin/site", data={"action": "create", "name": "fresh", "domain": "a.example",
                                             "owner": "y@example.org"})
        t.eq(r.status, 409, P + "fresh@a.example again: 409")
        r = a.form_post("/admin/site", data={"action": "create", "name": "lost", "domain": "nowhere.example",
                                             "owner": "y@example.org"})
        t.ok(r.status == 400 and "kairan domain add nowhere.example" in r.text and
             not any(l.startswith("lost") for l in inst.check("lists").split()),
             P + "an unknown domain: 400 naming kairan domain add, nothing created")
        sel = re.search(r'<select name="domain" id="new-domain">(.*?)</select>', r.text, re.S)
        t.ok(sel is not None, P + "the form is shown again with its select")
    finally:
        if server:
            server.stop()


scenario("http")
scenario("cgi")
t.done()
