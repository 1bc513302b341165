#!/usr/bin/env python3
"""test_web_browser.py - kairan's web pages in headless Chromium: log in,
add a member, approve a held post, change a setting (an invalid value first),
read a Japanese post in the archive, a phone-sized page, and subscribe
through the public form, confirming with the link from the queued mail.
tests/web/browser.js drives Chromium through playwright-core and reports
each check; this script sets up the instance, turns the reports into TAP
and checks the effects in the database.  Screenshots go to
test-artifacts/web/.  Skips unless /usr/bin/chromium and
tests/web/node_modules (npm ci in tests/web) are there."""
import json
import os
import shutil
import subprocess

from kt import *

t = Tap()
if browser_missing():
    t.skip_all(browser_missing())

OWNER, PW = "owner@example.org", "owner-pass-1"
inst = Instance()
inst.newlist("team", owner=OWNER, password=PW)
inst.subscribe("team", "member@example.org")
jp = os.path.join(CORPUS, "japanese", "rubymail-multi_charset-japanese_iso_2022.eml")
jp_num, jp_words = None, []
if os.path.exists(jp):
    inst.deliver("team", open(jp, "rb").read(), sender="member@example.org")
    jp_num = inst.archive_numbers("team")[-1]
    import email
    import email.policy
    m = email.message_from_bytes(open(jp, "rb").read(), policy=email.policy.default)
    body = m.get_body(preferencelist=("plain",)).get_content()
    jp_words = [w for w in body.split() if any("\u3040" <= ch <= "\u9fff" for ch in w)][:3]
    if not jp_words:
        raise RuntimeError("no Japanese words found in " + jp)
inst.deliver("team", make_msg(subject="Kickoff meeting"))
inst.config("team", "post_policy", "moderated")
inst.deliver("team", make_msg(subject="Please moderate me", body="A post that waits for the moderators.\n"))
inst.clear_queue()

artifacts = os.path.join(os.environ.get("KAIRAN_BUILDDIR", SRCDIR), "test-artifacts", "web")
port = free_port()
set_global(inst, "web_url", f"http://127.0.0.1:{port}")
server = WebServer(inst, port=port)
try:
    cfg = {"url": server.url, "list": "team", "owner": OWNER, "password": PW, "home": inst.home,
           "chromium": CHROMIUM, "screenshots": artifacts, "jpNum": jp_num, "jpWords": jp_words,
           "heldSubject": "Please moderate me"}
    r, _ = browser_run(t, "browser.js", cfg, inst.path("browser.json"), timeout=240)
    t.ok(r.returncode == 0, "browser run finished", r.stderr)
    t.ok("browser-added@example.org" in inst.check("members", "team"), "member added in the browser is in the database")
    t.ok("no held posts" in inst.check("held", "team"), "held post approved in the browser left the held list")
    t.eq(inst.check("config", "team", "post_policy").strip(), "anyone", "setting changed in the browser is stored")
    t.eq(inst.check("config", "team", "max_size").strip(), "200000", "the corrected value is stored")
    t.ok("browser-sub@example.org" in inst.check("members", "team"), "subscriber confirmed in the browser is a member")
    shots = sorted(os.listdir(artifacts)) if os.path.isdir(artifacts) else []
    t.ok(len(shots) >= 8, f"screenshots saved in {artifacts}", shots)
finally:
    server.stop()
t.done()
