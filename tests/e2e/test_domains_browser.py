#!/usr/bin/env python3
"""test_domains_browser.py - the site admin's /admin/domains page in
headless Chromium (tests/web/domains.js through playwright-core): log in
as the instance admin, reach the page from the overview, add a domain
with a web URL, no Remove for a domain with lists, remove one through
the confirmation step.  This script sets up the instance, turns the
reports into TAP and checks the effects with `kairan domains`.
Screenshots go to test-artifacts/web/.  Skips unless /usr/bin/chromium
and tests/web/node_modules (npm ci in tests/web) are there."""
import json
import shutil
import subprocess

from kt import *

t = Tap()
if browser_missing():
    t.skip_all(browser_missing())

ADMIN, PW = "admin@example.org", "admin-pass-123"
inst = Instance()
inst.check("domain", "add", "a.example")
inst.check("newlist", "team@a.example")
inst.run("web", "--set-admin-password", stdin=(PW + "\n").encode())
artifacts = os.path.join(os.environ.get("KAIRAN_BUILDDIR", SRCDIR), "test-artifacts", "web")
server = WebServer(inst)
try:
    cfg = {"url": server.url, "admin": ADMIN, "password": PW, "defaultDomain": DOMAIN,
           "chromium": CHROMIUM, "screenshots": artifacts}
    r, _ = browser_run(t, "domains.js", cfg, inst.path("domains-browser.json"), timeout=240)
    t.ok(r.returncode == 0, "browser run finished", r.stderr)
    out = inst.check("domains")
    t.ok("a.example" in out and "new.example" not in out, "kairan domains agrees: a.example kept, new.example gone", out)
    t.ok("domain new.example added" in inst.log() and "domain new.example removed" in inst.log(),
         "the log names the additions and removals", inst.log()[-600:])
finally:
    server.stop()
t.done()
