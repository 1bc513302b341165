#!/usr/bin/env python3
"""maintain_bench.py - figures for the periodic work (`kairan maintain`)
side by side with mlmmj's `mlmmj-maintd -F` (mlmmj's one-shot maintenance
run, what its cron line runs): a run with nothing to do over 100 lists,
the expiry of 500 stale held posts (100 lists x 5; kairan also mails each
sender, mlmmj just removes its moderation files), and kairan's archive
expiry of 5000 posts (mlmmj has no archive expiry).  Prints figures; not a
test.  Run from the build tree:
    KAIRAN=./kairan KAIRAN_TEMPLATES=../templates PYTHONPATH=../tests/e2e python3 ../tests/bench/maintain_bench.py
env: LISTS=100 HELD=5 POSTS=5000 RUNS=3
"""
import os
import resource
import shutil
import statistics
import subprocess
import tempfile
import time

from kt import Instance, make_msg, DOMAIN

LISTS = int(os.environ.get("LISTS", 100))
HELD = int(os.environ.get("HELD", 5))
POSTS = int(os.environ.get("POSTS", 5000))
RUNS = int(os.environ.get("RUNS", 3))
DAY = 86400
MAINTD = shutil.which("mlmmj-maintd") or "/usr/bin/mlmmj-maintd"


def timed(fn):
    """(wall, CPU of the child processes) seconds of fn()"""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    fn()
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (time.monotonic() - start, r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime)


def median_of(fn, runs=RUNS):
    runs = [timed(fn) for _ in range(runs)]
    return (statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs))


def row(case, kairan, peer):
    def fmt(x):
        return f"{x[0] * 1000:8.1f} ms (cpu {x[1] * 1000:7.1f})" if x is not None else f"{'n/a':>26s}"
    print(f"{case:46s} kairan {fmt(kairan)}   mlmmj-maintd {fmt(peer)}")
    print(f"RESULT\t{case}\t{'' if kairan is None else round(kairan[0] * 1000, 1)}\t"
          f"{'' if peer is None else round(peer[0] * 1000, 1)}")


def kairan_maintain(inst, *args, days=0):
    r = inst.run("maintain", *args, env={"KAIRAN_TEST_NOW_OFFSET": str(days * DAY)})
    assert r.returncode == 0, r.stderr


# ---- kairan: LISTS lists, HELD held posts each ----------------------------
inst = Instance()
for i in range(LISTS):
    inst.newlist(f"l{i:03d}", owner="owner@example.org")
    inst.config(f"l{i:03d}", "post_policy", "moderated")
kairan_maintain(inst)            # first run: every task's row exists
noop = median_of(lambda: kairan_maintain(inst, "--now"))

for i in range(LISTS):
    for k in range(HELD):
        r = inst.deliver(f"l{i:03d}", make_msg(subject=f"held {k}", to=f"l{i:03d}@{DOMAIN}"),
                         sender=f"s{k}@example.org")
        assert r.returncode == 0, r.stderr
inst.clear_queue()
held = timed(lambda: kairan_maintain(inst, "--task", "held_expire", days=20))
assert len(inst.queue()) == LISTS * HELD, "one notice per discarded post"

# archive expiry: POSTS imported posts with old Dates
arch = Instance()
arch.newlist("arch", owner="owner@example.org")
mbox = os.path.join(arch.home, "old.mbox")
with open(mbox, "wb") as f:
    for n in range(POSTS):
        f.write(b"From old@example.org Mon Jan  5 10:00:00 2026\n")
        f.write(make_msg(subject=f"old {n}", msgid=f"<old{n}@example.org>", body="x" * 2000 + "\n")
                .replace(b"Mon, 23 Nov 2026", b"Mon, 05 Jan 2026") + b"\n")
r = arch.run("import", "mbox", mbox, "--as", "arch", "--merge")
assert r.returncode == 0, r.stderr
arch.config("arch", "archive_expire", "30d")
expire = timed(lambda: kairan_maintain(arch, "--list", "arch", "--task", "archive_expire"))
assert not arch.archive_numbers("arch"), "every old post expired"

# ---- mlmmj: the same lists as mlmmj list directories ----------------------
peer_noop = peer_held = None
if os.path.exists(MAINTD):
    top = tempfile.mkdtemp(prefix="kairan-bench-mlmmj-")
    for i in range(LISTS):
        L = os.path.join(top, f"l{i:03d}")
        for d in ("incoming", "queue", "queue/discarded", "archive", "text", "subconf", "unsubconf", "bounce",
                  "control", "moderation", "subscribers.d", "digesters.d", "nomailsubs.d", "requeue"):
            os.makedirs(os.path.join(L, d), exist_ok=True)
        open(os.path.join(L, "control", "listaddress"), "w").write(f"l{i:03d}@example.test\n")
        open(os.path.join(L, "control", "owner"), "w").write("owner@example.test\n")
        open(os.path.join(L, "control", "relayhost"), "w").write("127.0.0.1\n")
        open(os.path.join(L, "control", "smtpport"), "w").write("9\n")    # nothing to send in these runs
    run = lambda: subprocess.run([MAINTD, "-F", "-d", top], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL, timeout=300)
    run()
    peer_noop = median_of(run)
    old = time.time() - 20 * DAY
    for i in range(LISTS):
        for k in range(HELD):
            p = os.path.join(top, f"l{i:03d}", "moderation", f"{k:032x}")
            open(p, "wb").write(make_msg(subject=f"held {k}"))
            os.utime(p, (old, old))
    peer_held = timed(run)
    left = sum(len(os.listdir(os.path.join(top, f"l{i:03d}", "moderation"))) for i in range(LISTS))
    if left:
        print(f"# mlmmj-maintd left {left} of {LISTS * HELD} moderation files")
    shutil.rmtree(top, ignore_errors=True)
else:
    print("# mlmmj-maintd not installed: no peer figures")

print(f"# {LISTS} lists, {HELD} held posts each, {POSTS} archived posts; median of {RUNS} where repeated;")
print("# wall time, and the CPU time of the processes (the rest is waiting for fsync and the disk)")
row(f"run with nothing due, {LISTS} lists", noop, peer_noop)
row(f"expire {LISTS * HELD} held posts (kairan: + a notice each)", held, peer_held)
row(f"expire {POSTS} archived posts (files, index, search)", expire, None)
