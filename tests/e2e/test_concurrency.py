#!/usr/bin/env python3
"""test_concurrency.py - 50 concurrent `kairan deliver` runs on one list:
all exit 0, numbers 1..50 unique and contiguous, each archive file's
X-Mail-Count matches its name, one queue entry per post, no 'database is
locked' anywhere."""
import subprocess
from kt import Tap, Instance, KAIRAN, make_msg

t = Tap()
inst = Instance()
inst.newlist("team")
inst.subscribe("team", "member@example.org", "b@example.org")
procs = []
for i in range(50):
    p = subprocess.Popen([KAIRAN, "--home", inst.home, "deliver", "team", "-f", "member@example.org"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    procs.append((i, p))
for i, p in procs:
    p.stdin.write(make_msg(f"concurrent {i}", msgid=f"<c{i}@example.org>"))
    p.stdin.close()
codes, errs = [], b""
for i, p in procs:
    codes.append(p.wait(timeout=300))
    errs += p.stderr.read()
t.eq(codes, [0] * 50, "all 50 deliveries exit 0")
t.ok(b"locked" not in errs and "locked" not in inst.log(), "no 'database is locked' failure", errs)
nums = inst.archive_numbers("team")
t.eq(nums, list(range(1, 51)), "numbers 1..50, unique and contiguous")
counts = [int(inst.archive("team", n)["X-Mail-Count"]) for n in nums]
t.eq(counts, nums, "X-Mail-Count matches the archive number")
subjects = sorted(str(inst.archive("team", n)["Subject"]).split("] ")[1] for n in nums)
t.eq(subjects, sorted(f"concurrent {i}" for i in range(50)), "every post archived exactly once")
t.eq(len(inst.queue()), 50, "one queued fan-out per post")
t.eq(inst.check("lists", "--verbose").split()[3], "50", "list counter at 50")

# A database locked for longer than db_busy_timeout: 75, nothing visible.
import sqlite3
with open(inst.path("kairan.conf"), "a") as f:
    pass
conf = open(inst.path("kairan.conf")).read().replace("[global]\n", "[global]\ndb_busy_timeout=1\n", 1)
open(inst.path("kairan.conf"), "w").write(conf)
locker = sqlite3.connect(inst.path("kairan.db"), timeout=5, isolation_level=None)
locker.execute("BEGIN IMMEDIATE")
r = inst.deliver("team", make_msg("while locked"))
locker.execute("ROLLBACK")
locker.close()
t.eq(r.returncode, 75, "database locked past db_busy_timeout: exit 75 (the MTA retries)")
t.eq(inst.archive_numbers("team"), list(range(1, 51)), "nothing archived while locked")
t.eq(len(inst.queue()), 50, "nothing queued while locked")
r = inst.deliver("team", make_msg("after the lock"))
t.ok(r.returncode == 0 and inst.archive_numbers("team")[-1] == 51, "the retry gets number 51")
t.done()
