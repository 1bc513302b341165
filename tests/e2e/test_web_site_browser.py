#!/usr/bin/env python3
"""test_web_site_browser.py - the site admin's and the owners' pages in
headless Chromium (tests/web/site.js through playwright-core), through both
front ends: `kairan web`, and cgi/kairan.cgi run by a real web server
(lighttpd with mod_cgi, on a loopback port).  The owner logs in by address
alone and sees both lists, saves one settings section, sees no buttons on
an empty held page and no site administration; the site admin creates two
lists and removes one through the confirmation step.  This script turns
the browser's reports into TAP and checks the effects: `kairan lists`,
the owners, HOME/aliases, HOME/removed/.  Screenshots go to
test-artifacts/web-site/.  Skips unless Chromium, node and
tests/web/node_modules (npm ci in tests/web) are there; the CGI half skips
without lighttpd."""
import json
import os
import shutil
import signal
import subprocess

from kt import *

t = Tap()
LIGHTTPD = shutil.which("lighttpd") or ("/usr/sbin/lighttpd" if os.path.exists("/usr/sbin/lighttpd") else None)
if browser_missing():
    t.skip_all(browser_missing())

OWNER, PW = "owner@example.org", "owner-pass-1"
ADMIN_PW = "site-admin-pass-1"
SECTIONS = ["Posting", "Moderation", "Members & subscription", "Archive", "Digest", "Deliverability", "Limits"]
artifacts = os.path.join(os.environ.get("KAIRAN_BUILDDIR", SRCDIR), "test-artifacts", "web-site")


class Lighttpd:
    """lighttpd on a loopback port running cgi/kairan.cgi at /cgi-bin/kairan.cgi."""

    def __init__(self, inst):
        self.port = free_port()
        root = inst.path("htdocs")
        os.makedirs(root, exist_ok=True)
        env = {"KAIRAN_HOME": inst.home}
        for k, v in os.environ.items():       # the build's templates, sanitizer options
            if k.startswith(("KAIRAN_", "ASAN_", "UBSAN_", "LSAN_")) and k != "KAIRAN_HOME":
                env[k] = v
        envs = ", ".join(f'"{k}" => "{v}"' for k, v in env.items())
        conf = inst.path("lighttpd.conf")
        with open(conf, "w") as f:
            f.write(f"""server.modules = ("mod_alias", "mod_cgi", "mod_setenv")
server.document-root = "{root}"
server.bind = "127.0.0.1"
server.port = {self.port}
server.errorlog = "{inst.path('lighttpd-error.log')}"
alias.url = ("/cgi-bin/kairan.cgi" => "{os.path.abspath(KAIRAN_CGI)}")
$HTTP["url"] =~ "^/cgi-bin/" {{
    cgi.assign = ("" => "")
}}
setenv.add-environment = ({envs})
""")
        self.proc = subprocess.Popen([LIGHTTPD, "-D", "-f", conf], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.url = f"http://127.0.0.1:{self.port}/cgi-bin/kairan.cgi"
        if not wait_port(self.port):
            out = self.proc.stderr.read().decode(errors="replace") if self.proc.poll() is not None else ""
            self.stop()
            raise RuntimeError("lighttpd did not start: " + out)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for f in (self.proc.stdout, self.proc.stderr):
            f.close()


def scenario(kind):
    inst = Instance()
    inst.newlist("team", owner=OWNER, password=PW)
    inst.newlist("dev", owner=OWNER, password=PW)
    inst.newlist("third", owner="boss@example.org", password="boss-pass-1")
    inst.subscribe("team", "member@example.org")
    r = inst.run("web", "--set-admin-password", stdin=(ADMIN_PW + "\n").encode())
    t.ok(r.returncode == 0, f"[{kind}] kairan web --set-admin-password", r.stderr)
    server = None
    try:
        if kind == "http":
            port = free_port()
            set_global(inst, "web_url", f"http://127.0.0.1:{port}")
            server = WebServer(inst, port=port)
        else:
            server = Lighttpd(inst)
            set_global(inst, "web_url", server.url)
        cfg = {"kind": kind, "url": server.url, "owner": OWNER, "password": PW, "adminPassword": ADMIN_PW,
               "chromium": CHROMIUM, "screenshots": artifacts, "sections": SECTIONS,
               "lists": inst.check("lists").split()}
        r, _ = browser_run(t, "site.js", cfg, inst.path("site-browser.json"), timeout=300)
        t.ok(r.returncode == 0, f"[{kind}] browser run finished", r.stderr)
        P = f"[{kind}] "
        lists = inst.check("lists").split()
        t.ok("browser-made" in lists and "browser-gone" not in lists, P + "kairan lists: the created list is there, the removed one gone", lists)
        t.eq(inst.check("config", "browser-made", "owners").strip(), "owner-browser-made@example.org", P + "with the owner typed in")
        t.eq(inst.check("config", "team", "max_size").strip(), "300000", P + "the corrected Limits value is stored")
        t.eq(inst.check("config", "team", "post_policy").strip(), "members", P + "the unsaved Posting change is not")
        t.eq(inst.check("config", "team", "digest_format").strip(), "plain", P + "the Digest section's change is stored")
        al = open(inst.path("aliases")).read()
        t.ok("deliver --admin browser-made" in al and "browser-gone" not in al, P + "HOME/aliases follows the browser's changes", al)
        removed = os.listdir(inst.path("removed")) if os.path.isdir(inst.path("removed")) else []
        t.ok(any(x.startswith("browser-gone@") for x in removed), P + "the removed list's spool is in HOME/removed/", removed)
    finally:
        if server:
            server.stop()


scenario("http")
if LIGHTTPD:
    scenario("cgi")
else:
    t.skip("[cgi] the pages through lighttpd + kairan.cgi", "lighttpd is missing (apt-get install lighttpd)")
t.done()
