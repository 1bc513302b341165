#!/usr/bin/env python3
"""test_web_settings_text_browser.py - the settings page's textareas in
headless Chromium (tests/web/settings_text.js through playwright-core),
through both front ends: `kairan web`, and cgi/kairan.cgi run by lighttpd
on a loopback port.  The owner types several banned patterns, two header
rules and a text of several lines, saves, reloads and sees them as typed;
a bad pattern is refused at its field.  This script turns the browser's
reports into TAP and checks what was stored with `kairan config`: the
patterns blank separated, the rules as the CLI stores them, the text with
LF line ends.  Screenshots go to test-artifacts/web-settings-text/.
Skips unless Chromium, node and tests/web/node_modules (npm ci in
tests/web) are there; the CGI half skips without lighttpd."""
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
BANNED = "spammer@bad.example\n*@junk.example\n^bulk-[0-9]+@\n"
RULES = "X-Spam-Flag: ^YES -> hold\nSubject: cheap\\;pills -> discard"
TEXT = "Thank you for writing to the owners.\n\nWe answer within two days.\n-- \nThe team"
artifacts = os.path.join(os.environ.get("KAIRAN_BUILDDIR", SRCDIR), "test-artifacts", "web-settings-text")


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
    server = None
    try:
        if kind == "http":
            port = free_port()
            set_global(inst, "web_url", f"http://127.0.0.1:{port}")
            server = WebServer(inst, port=port)
        else:
            server = Lighttpd(inst)
            set_global(inst, "web_url", server.url)
        cfg = {"kind": kind, "url": server.url, "owner": OWNER, "password": PW, "chromium": CHROMIUM,
               "screenshots": artifacts, "banned": BANNED, "rules": RULES, "text": TEXT}
        r, n = browser_run(t, "settings_text.js", cfg, inst.path("settings-text-browser.json"), timeout=300)
        t.ok(r.returncode == 0 and n >= 7, f"[{kind}] browser run finished with every check", r.stderr)
        P = f"[{kind}] "
        t.eq(inst.check("config", "team", "banned").strip(), "spammer@bad.example *@junk.example ^bulk-[0-9]+@",
             P + "banned stored blank separated (the bad pattern later not stored)")
        t.eq(inst.check("config", "team", "header_filters").strip(),
             "X-Spam-Flag: ^YES -> hold; Subject: cheap\\;pills -> discard", P + "header_filters stored as the CLI stores it")
        t.eq(inst.check("config", "team", "autorespond_admin_text"), TEXT + "\n",
             P + "the text stored with LF line ends (the browser sent CRLF)")
    finally:
        if server:
            server.stop()


scenario("http")
if LIGHTTPD:
    scenario("cgi")
else:
    t.skip("[cgi] the page through lighttpd + kairan.cgi", "lighttpd is missing (apt-get install lighttpd)")
t.done()
