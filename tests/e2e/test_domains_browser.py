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
CHROMIUM = os.environ.get("KAIRAN_CHROMIUM", "/usr/bin/chromium")
WEBDIR = os.path.join(SRCDIR, "tests", "web")
if not os.path.exists(CHROMIUM):
    t.skip_all(f"{CHROMIUM} is missing (apt-get install chromium chromium-driver)")
if not os.path.isdir(os.path.join(WEBDIR, "node_modules", "playwright-core")):
    t.skip_all("tests/web/node_modules is missing (cd tests/web && npm ci)")
if not shutil.which("node"):
    t.skip_all("node is missing")

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
    cfgfile = inst.path("domains-browser.json")
    json.dump(cfg, open(cfgfile, "w"))
    r = subprocess.run(["node", os.path.join(WEBDIR, "domains.js"), cfgfile], capture_output=True, timeout=240,
                       cwd=WEBDIR)
    for line in r.stdout.decode(errors="replace").splitlines():
        try:
            rep = json.loads(line)
        except ValueError:
            t.diag(line)
            continue
        t.ok(rep["ok"], "browser: " + rep["name"], rep.get("detail"))
    t.ok(r.returncode == 0, "browser run finished", r.stderr)
    out = inst.check("domains")
    t.ok("a.example" in out and "new.example" not in out, "kairan domains agrees: a.example kept, new.example gone", out)
    t.ok("domain new.example added" in inst.log() and "domain new.example removed" in inst.log(),
         "the log names the additions and removals", inst.log()[-600:])
finally:
    server.stop()
t.done()
