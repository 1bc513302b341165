#!/usr/bin/env python3
"""bounce_warnings_bench.py - figures for the bounce tasks of `kairan
maintain` (lib/bounce_warn.c) on one list of MEMBERS members of whom
DISABLED are disabled by bounces and STALE have an old score: the first
warning run (a warning mail queued for each disabled member), a run with
nothing due, the stale-score reset, and the removal run (each removed, the
owner told each time).  Side by side with mlmmj-maintd -F over a list of
the same size with nothing to do (mlmmj's bounce handling probes by its
own rules and has no warning series, so no like-for-like case exists).
Prints figures; not a test.  Run from the build tree:
    KAIRAN=./kairan KAIRAN_TEMPLATES=../templates PYTHONPATH=../tests/e2e python3 ../tests/bench/bounce_warnings_bench.py
env: MEMBERS=10000 DISABLED=1000 STALE=1000
"""
import os
import resource
import shutil
import sqlite3
import subprocess
import tempfile
import time

from kt import Instance

MEMBERS = int(os.environ.get("MEMBERS", 10000))
DISABLED = int(os.environ.get("DISABLED", 1000))
STALE = int(os.environ.get("STALE", 1000))
DAY = 86400
MAINTD = shutil.which("mlmmj-maintd") or "/usr/bin/mlmmj-maintd"


def timed(fn):
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    fn()
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (time.monotonic() - start, r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime)


def row(case, kairan, peer):
    def fmt(x):
        return f"{x[0] * 1000:8.1f} ms (cpu {x[1] * 1000:7.1f})" if x is not None else f"{'n/a':>26s}"
    print(f"{case:52s} kairan {fmt(kairan)}   mlmmj-maintd {fmt(peer)}")
    print(f"RESULT\t{case}\t{'' if kairan is None else round(kairan[0] * 1000, 1)}\t"
          f"{'' if peer is None else round(peer[0] * 1000, 1)}")


def maintain(inst, days, *args):
    r = inst.run("maintain", "--list", "team", "--now", *args, env={"KAIRAN_TEST_NOW_OFFSET": str(days * DAY)})
    assert r.returncode == 0, r.stderr
    return r


inst = Instance()
inst.newlist("team", owner="owner@example.org")
now = int(time.time())
db = sqlite3.connect(inst.path("kairan.db"))
db.executemany("INSERT INTO members(list, address, since, nomail, disabled_reason, bounce_score, bounce_last)"
               " VALUES('team', ?, 0, ?, ?, ?, ?)",
               [(f"m{i:06d}@example.net", 1 if i < DISABLED else 0, "bounce" if i < DISABLED else None,
                 5 if i < DISABLED else (1 if i < DISABLED + STALE else 0),
                 now if i < DISABLED + STALE else None) for i in range(MEMBERS)])
db.commit()
db.close()
maintain(inst, 0, "--task", "bounce_stale")          # the task rows exist
inst.clear_queue()
first = timed(lambda: maintain(inst, 0, "--task", "bounce_warnings"))
assert len(inst.queue()) == DISABLED, len(inst.queue())
noop = timed(lambda: maintain(inst, 3, "--task", "bounce_warnings"))
stale = timed(lambda: maintain(inst, 8, "--task", "bounce_stale"))
inst.run("config", "team", "bounce_warnings", "1")
inst.clear_queue()
removal = timed(lambda: maintain(inst, 8, "--task", "bounce_warnings"))
assert len(inst.queue()) == DISABLED, "one owner notice per removal"

peer = None
if os.path.exists(MAINTD):
    top = tempfile.mkdtemp(prefix="kairan-bench-mlmmj-")
    L = os.path.join(top, "team")
    for d in ("incoming", "queue", "queue/discarded", "archive", "text", "subconf", "unsubconf", "bounce",
              "control", "moderation", "subscribers.d", "digesters.d", "nomailsubs.d", "requeue"):
        os.makedirs(os.path.join(L, d), exist_ok=True)
    open(os.path.join(L, "control", "listaddress"), "w").write("team@example.test\n")
    open(os.path.join(L, "control", "owner"), "w").write("owner@example.test\n")
    open(os.path.join(L, "control", "relayhost"), "w").write("127.0.0.1\n")
    open(os.path.join(L, "control", "smtpport"), "w").write("9\n")
    with open(os.path.join(L, "subscribers.d", "m"), "w") as f:
        for i in range(MEMBERS):
            f.write(f"m{i:06d}@example.net\n")
    run = lambda: subprocess.run([MAINTD, "-F", "-d", top], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL, timeout=300)
    run()
    peer = timed(run)
    shutil.rmtree(top, ignore_errors=True)
else:
    print("# mlmmj-maintd not installed: no peer figures")

print(f"# one list, {MEMBERS} members, {DISABLED} disabled by bounces, {STALE} with an old score; one run each")
row(f"first warnings: {DISABLED} mails queued", first, None)
row(f"run with nothing due, {MEMBERS} members", noop, peer)
row(f"reset {STALE} stale bounce scores", stale, None)
row(f"remove {DISABLED} members + an owner notice each", removal, None)
