#!/usr/bin/env python3
"""test_member_options_browser.py - a member's own options page in
headless Chromium (tests/web/options.js): log in with the POP3 password,
turn receive_own_posts off and nodupes and hide_address on, set a
vacation date, save, reload; then clear the date.  This script checks the
effect with `kairan member-set` (what the CLI shows is what the fan-out
reads) and that a post during the vacation skips the member.  Skips unless
/usr/bin/chromium and tests/web/node_modules (npm ci in tests/web) are
there."""
import datetime
import json
import os
import shutil
import subprocess

from kt import *

t = Tap()
if browser_missing():
    t.skip_all(browser_missing())

MEMBER, PW = "member@example.org", "member-pass-1"
inst = Instance()
inst.newlist("team")
inst.subscribe("team", MEMBER, "other@example.org")
r = inst.run("passwd", "team", MEMBER, stdin=(PW + "\n").encode())
t.eq(r.returncode, 0, "the member's POP3 password is set")
vacation = (datetime.date.today() + datetime.timedelta(days=20)).isoformat()
artifacts = os.path.join(os.environ.get("KAIRAN_BUILDDIR", SRCDIR), "test-artifacts", "web")


def options():
    out = inst.check("member-set", "team", MEMBER)
    return dict(line.split(None, 1) for line in out.splitlines() if line.strip())


server = WebServer(inst)
state = {}
try:
    cfg = {"url": server.url, "list": "team", "member": MEMBER, "password": PW, "vacation": vacation,
           "chromium": CHROMIUM, "screenshots": artifacts}
    r, _ = browser_run(t, "options.js", cfg, inst.path("options-browser.json"), timeout=240)
    t.ok(r.returncode == 0, "browser run finished", r.stderr)
    o = options()
    t.eq(o.get("receive_own_posts"), "off", "receive_own_posts off, as saved in the browser")
    t.eq(o.get("nodupes"), "on", "nodupes on, as saved in the browser")
    t.eq(o.get("hide_address"), "on", "hide_address on, as saved in the browser")
    t.eq(o.get("vacation"), "off", "the vacation date cleared in the browser is gone")
    # the vacation set in the browser, now from the CLI, takes the member out of the fan-out
    inst.check("member-set", "team", MEMBER, "vacation", vacation)
    inst.clear_queue()
    r = inst.deliver("team", make_msg(subject="while away", frm="Other <other@example.org>"),
                     sender="other@example.org")
    t.eq(r.returncode, 0, "a post during the vacation is accepted")
    rcpts = [x for q in inst.queue() for x in q["rcpts"]]
    t.ok("other@example.org" in rcpts, "the post went out (the author gets a copy by default)", rcpts)
    t.ok(MEMBER not in rcpts, "the member on vacation gets no copy", rcpts)
finally:
    server.stop()
t.done()
