#!/usr/bin/env python3
"""test_web_import_browser.py - the archive import and export pages in
headless Chromium (tests/web/browser_import.js): an owner goes from the
settings page to the import page, uploads a bad mbox (the error names the
line; nothing changes), then a good one (the posts show in the archive),
and saves the mbox and members CSV downloads, which must be the bytes of
`kairan export --mbox` and `--members`.  Screenshots go to
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


def post(subject, date, mid, body):
    return (f"From: Old Member <old@example.org>\nTo: team@{DOMAIN}\nSubject: {subject}\n"
            f"Date: {date}\nMessage-ID: <{mid}>\n\n{body}")


GOOD = ("From old@example.org Wed Mar  4 10:00:00 2015\n"
        + post("Newest post", "Wed, 04 Mar 2015 10:00:00 +0000", "n@old.example", "three\n")
        + "\nFrom old@example.org Mon Mar  2 10:00:00 2015\n"
        + post("Oldest post", "Mon, 02 Mar 2015 10:00:00 +0000", "o@old.example", "one\n")
        + "\nFrom old@example.org Tue Mar  3 10:00:00 2015\n"
        + post("Middle post", "Tue, 03 Mar 2015 10:00:00 +0000", "m@old.example", "two\n"))
BAD = GOOD + "\nFrom old@example.org Tue Mar  3 11:00:00 2015\nnot mail, just words\n"
BAD_LINE = BAD.split("\n").index("not mail, just words") + 1

inst = Instance()
inst.newlist("team", owner=OWNER, password=PW)
inst.subscribe("team", "member@example.org")
inst.deliver("team", make_msg(subject="Live post"))
inst.clear_queue()
good, bad = inst.path("good.mbox"), inst.path("bad.mbox")
open(good, "w").write(GOOD)
open(bad, "w").write(BAD)

artifacts = os.path.join(os.environ.get("KAIRAN_BUILDDIR", SRCDIR), "test-artifacts", "web")
server = WebServer(inst)
try:
    cfg = {"url": server.url, "list": "team", "owner": OWNER, "password": PW, "chromium": CHROMIUM,
           "screenshots": artifacts, "goodMbox": good, "badMbox": bad, "badLine": BAD_LINE,
           "mboxOut": inst.path("download.mbox"), "csvOut": inst.path("download.csv")}
    r, _ = browser_run(t, "browser_import.js", cfg, inst.path("browser-import.json"), timeout=180)
    t.ok(r.returncode == 0, "browser run finished", r.stderr)
    t.eq(inst.archive_numbers("team"), [1, 2, 3, 4], "the bad upload added nothing, the good one three posts")
    t.eq([str(inst.archive("team", n)["Subject"]) for n in (2, 3, 4)], ["Oldest post", "Middle post", "Newest post"],
         "in date order after the last post")
    got = open(cfg["mboxOut"], "rb").read() if os.path.exists(cfg["mboxOut"]) else b""
    t.ok(got == inst.run("export", "team", "--mbox").stdout and got.count(b"\nFrom ") == 3,
         "the mbox saved by the browser is `kairan export team --mbox`", len(got))
    got = open(cfg["csvOut"], "rb").read() if os.path.exists(cfg["csvOut"]) else b""
    t.eq(got, inst.run("export", "team", "--members").stdout, "the CSV saved by the browser is `kairan export team --members`")
    t.eq(len(inst.queue()), 0, "nothing was mailed")
finally:
    server.stop()
t.done()
