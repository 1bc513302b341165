#!/usr/bin/env python3
"""test_templates.py - owners' own mail texts: `kairan template` and
/admin/LIST/templates.

The CLI lists every template and where its text comes from, prints the
text in effect, installs an override (--edit FILE, or - for stdin) after
checking its placeholders (unknown ones refused, named, nothing
installed) and removes it (--reset).  Overrides are used in real mails:
the reply to a `help` command mail and the welcome mail of an open list;
the list's own text wins over the domain's and the instance's, which win
over the shipped one; a Japanese list uses its Japanese texts.  The web
page (an owner's session, CSRF-checked POSTs) is driven over HTTP and in
headless Chromium (tests/web/templates.js, when Chromium and
tests/web/node_modules are there)."""
import json
import shutil
import subprocess

from kt import *

t = Tap()
OWNER, PW = "owner@example.org", "owner-pass-1"
inst = Instance()
inst.newlist("team", owner=OWNER, password=PW)
inst.subscribe("team", "member@example.org")
inst.config("team", "subscribe_policy", "open")
inst.newlist("other")
inst.config("other", "subscribe_policy", "open")


def tmpl(*args, stdin=b""):
    return inst.run("template", *args, stdin=stdin)


def reply_of(kind, to, cmd, list_name="team"):
    """Send a command mail, return the text of the queued notice of kind."""
    inst.clear_queue()
    r = inst.deliver(list_name, ctl_mail(body=cmd + "\n", frm=to, to=f"{list_name}-ctl@{DOMAIN}"), sender=to,
                     mode="--ctl")
    if r.returncode != 0:
        return f"(deliver --ctl failed: {r.stderr.decode()})"
    n = notices(inst, kind, to=to)
    if not n:
        return None
    return n[0]["msg"]["Subject"] + "\n" + body_text(n[0]["msg"])


# --- CLI: listing and showing
r = tmpl("team")
lines = r.stdout.decode().splitlines()
t.eq(r.returncode, 0, "kairan template LIST exits 0")
names = [l.split()[0] for l in lines[1:]]
t.ok({"help", "welcome", "goodbye", "confirm_subscribe", "refused"} <= set(names) and "ctl_texts" not in names,
     "the listing names the mail templates (not the ctl_texts catalog)", names)
t.ok(all(l.split()[2] == "shipped" for l in lines[1:]), "every template comes from the shipped texts at first", lines)
shipped_help = open(os.path.join(SRCDIR, "templates", "mail", "en", "help.txt")).read()
t.eq(tmpl("team", "help").stdout.decode(), shipped_help, "kairan template LIST help prints the shipped text")
r = tmpl("team", "nosuch")
t.ok(r.returncode == 64 and b"no template 'nosuch'" in r.stderr and b"welcome" in r.stderr,
     "an unknown template name: exit 64, the valid names given", r.stderr)
r = tmpl("nolist")
t.eq(r.returncode, 67, "an unknown list: exit 67")

# --- a bad placeholder is refused, naming it, and nothing is installed
bad = inst.path("bad.txt")
open(bad, "w").write("Subject: Welcome to {{list}}\n\nHi {{adress}}, see {{archive_url}} and {{list_address}}.\n")
r = tmpl("team", "welcome", "--edit", bad)
t.ok(r.returncode == 65 and b"{{adress}}" in r.stderr and b"{{archive_url}}" in r.stderr
     and b"{{list_address}}" not in r.stderr, "unknown placeholders refused (exit 65), each named", r.stderr)
t.ok(not os.path.exists(inst.path("templates", "team", "en", "welcome.txt")), "nothing installed after a refusal")
r = tmpl("team", "welcome", "--edit", "-", stdin=b"Subject: x\n\nbad \x00 byte\n")
t.eq(r.returncode, 65, "a control character is refused")

# --- a list override of help, used in the real reply to a help command
HELP = "Team help, our own words.\nWrite to {{ctl_address}} with one command a line.\n"
r = tmpl("team", "help", "--edit", "-", stdin=HELP.encode())
t.ok(r.returncode == 0, "kairan template team help --edit - installs the list's text", r.stderr)
t.ok("help                   en        list (overridden)" in tmpl("team").stdout.decode(),
     "the listing shows help as overridden")
t.eq(tmpl("team", "help").stdout.decode(), HELP, "kairan template team help prints the override")
reply = reply_of("ctl_reply", "member@example.org", "help")
t.ok(reply and "Team help, our own words." in reply and f"Write to team-ctl@{DOMAIN} with" in reply
     and "mget RANGE" not in reply, "the help reply mail uses the override, placeholders filled", reply)
reply = reply_of("ctl_reply", "member@example.org", "help", list_name="other")
t.ok(reply and "mget RANGE" in reply and "our own words" not in reply,
     "another list's help reply keeps the shipped text", reply)

# --- welcome: instance < domain < list
os.makedirs(inst.path("templates", "en"))
open(inst.path("templates", "en", "welcome.txt"), "w").write("Subject: Hello from the site\n\nSite welcome for {{address}}.\n")
reply = reply_of("welcome", "new1@example.org", "subscribe", list_name="other")
t.ok(reply and reply.startswith("Hello from the site") and "Site welcome for new1@example.org." in reply,
     "an instance-level welcome (HOME/templates/en/welcome.txt) is used by every list", reply)
os.makedirs(inst.path("templates", f"@{DOMAIN}", "en"))
open(inst.path("templates", f"@{DOMAIN}", "en", "welcome.txt"), "w").write("Subject: Hello from the domain\n\nDomain welcome.\n")
reply = reply_of("welcome", "new2@example.org", "subscribe", list_name="other")
t.ok(reply and reply.startswith("Hello from the domain"), "the domain's welcome wins over the instance's", reply)
t.ok("welcome                en        domain" in tmpl("other").stdout.decode(), "the listing says the text is the domain's")
WELCOME = "Subject: Welcome aboard {{list}}\n\nDear {{address}}, our own welcome.\n"
r = tmpl("team", "welcome", "--edit", "-", stdin=WELCOME.replace("\n", "\r\n").encode())
t.ok(r.returncode == 0, "a CRLF welcome is installed", r.stderr)
t.eq(open(inst.path("templates", "team", "en", "welcome.txt"), "rb").read(), WELCOME.encode(),
     "stored with LF line ends")
reply = reply_of("welcome", "new3@example.org", "subscribe")
t.ok(reply and reply.startswith("Welcome aboard team") and "Dear new3@example.org, our own welcome." in reply,
     "the list's own welcome wins over the domain's and the instance's", reply)

# --- reset
r = tmpl("team", "welcome", "--reset")
t.ok(r.returncode == 0 and b"reset" in r.stdout, "--reset removes the override", r.stdout + r.stderr)
reply = reply_of("welcome", "new4@example.org", "subscribe")
t.ok(reply and reply.startswith("Hello from the domain"), "after --reset the domain's text is used again", reply)
shutil.rmtree(inst.path("templates", f"@{DOMAIN}"))
shutil.rmtree(inst.path("templates", "en"))
reply = reply_of("welcome", "new5@example.org", "subscribe")
t.ok(reply and reply.startswith("Welcome to team"), "with no override the shipped welcome is back", reply)
r = tmpl("team", "welcome", "--reset")
t.ok(r.returncode == 0 and b"had no own text" in r.stdout, "--reset without an override says so", r.stdout)

# --- a Japanese list uses its Japanese override, not the English one
inst.newlist("jp")
inst.config("jp", "language", "ja")
inst.config("jp", "subscribe_policy", "open")
JA = "Subject: {{list}} へようこそ（独自）\n\n{{address}} さん、ようこそ。\n"
r = tmpl("jp", "welcome", "--edit", "-", stdin=JA.encode())
t.ok(r.returncode == 0 and os.path.exists(inst.path("templates", "jp", "ja", "welcome.txt")),
     "a Japanese list's override goes to templates/jp/ja/", r.stderr)
r = tmpl("jp", "welcome", "--lang", "en", "--edit", "-", stdin=b"Subject: English one\n\nEnglish.\n")
reply = reply_of("welcome", "new6@example.org", "subscribe", list_name="jp")
t.ok(reply and reply.startswith("jp へようこそ（独自）") and "new6@example.org さん、ようこそ。" in reply,
     "the Japanese list's welcome is its Japanese override (Subject and body in UTF-8)", reply)

# --- the web page over HTTP
port = free_port()
set_global(inst, "web_url", f"http://127.0.0.1:{port}")
server = WebServer(inst, port=port)
try:
    anon = WebClient(inst, server=server)
    r = anon.get("/admin/team/templates")
    t.ok(r.status == 303 and "/login" in (r.header("Location") or ""), "not logged in: sent to the login page",
         (r.status, r.header("Location")))
    c = WebClient(inst, server=server)
    c.login("team", OWNER, PW)
    r = c.get("/admin/team/settings")
    t.ok('href="/admin/team/templates"' in r.text, "the settings page links the templates page")
    r = c.get("/admin/team/templates")
    t.ok(r.status == 200 and re.search(r"<code>help</code></a></td>\s*<td>list \(overridden\)", r.text)
         and re.search(r"<code>welcome</code></a></td>\s*<td>shipped</td>", r.text),
         "the templates page shows help overridden and welcome shipped", r.text[-3000:])
    r = c.get("/admin/team/templates/help")
    t.ok(r.status == 200 and "Team help, our own words." in r.text and 'value="reset"' in r.text,
         "the help page shows the override in a textarea, with a reset button")
    r = c.get("/admin/team/templates/welcome")
    ph = re.search(r'class="help placeholders">(.*?)</p>', r.text, re.S)
    t.ok(ph and "&#123;&#123;address&#125;&#125;" in ph.group(1) and "&#123;&#123;ctl_address&#125;&#125;" in ph.group(1),
         "the welcome page names the placeholders it is filled with", ph and ph.group(1))
    r = c.post("/admin/team/templates/welcome", {"action": "save", "text": "x {{list}}", "tlang": "en"})
    t.eq(r.status, 403, "a POST without the CSRF token: 403")
    r = c.form_post("/admin/team/templates/welcome", data={"action": "save", "tlang": "en",
                                                           "text": "Subject: Hi\n\nHello {{nobody}}.\n"})
    t.ok(r.status == 400 and "{{nobody}}" in r.text and "Hello {{nobody}}." in r.text,
         "an unknown placeholder: 400, named, the text kept in the form", r.text[-2000:])
    t.ok(not os.path.exists(inst.path("templates", "team", "en", "welcome.txt")), "nothing was installed")
    r = c.form_post("/admin/team/templates/welcome", data={"action": "save", "tlang": "en",
                                                           "text": "Subject: Web welcome {{list}}\r\n\r\nFrom the web, {{address}}.\r\n"})
    t.ok(r.status == 200 and "Template saved." in r.text, "saving a good text", r.text[-2000:])
    reply = reply_of("welcome", "new7@example.org", "subscribe")
    t.ok(reply and reply.startswith("Web welcome team") and "From the web, new7@example.org." in reply,
         "the welcome saved on the web is the one mailed", reply)
    r = c.form_post("/admin/team/templates/welcome", data={"action": "reset", "tlang": "en"})
    t.ok(r.status == 200 and "The shipped text is used again." in r.text
         and not os.path.exists(inst.path("templates", "team", "en", "welcome.txt")), "reset on the web")
    t.eq(c.get("/admin/team/templates/nosuch").status, 404, "an unknown template: 404")
    t.eq(c.get("/admin/team/templates/..%2f..%2fkairan.conf").status, 404, "a path in the name: 404")
    t.eq(c.get("/admin/other/templates").status, 403, "the owner of team may not edit other's templates")
    r = c.get("/admin/jp/templates")
    t.eq(r.status, 403, "nor jp's")

    # --- headless Chromium
    if browser_missing():
        t.skip("the templates page in headless Chromium", browser_missing())
    else:
        artifacts = os.path.join(os.environ.get("KAIRAN_BUILDDIR", SRCDIR), "test-artifacts", "web")
        cfg = {"url": server.url, "list": "team", "owner": OWNER, "password": PW, "chromium": CHROMIUM,
               "screenshots": artifacts}
        r, _ = browser_run(t, "templates.js", cfg, inst.path("templates-browser.json"), timeout=240)
        t.ok(r.returncode == 0, "browser run finished", r.stderr)
        p = inst.path("templates", "team", "en", "goodbye.txt")
        t.ok(os.path.exists(p) and "Goodbye from the browser, {{address}}." in open(p).read(),
             "the goodbye text saved in the browser is the list's override on disk")
finally:
    server.stop()
t.done()
