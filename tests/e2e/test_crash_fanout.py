"""test_crash_fanout.py - 100 posts to a 1,000-member list, each through
`kairan deliver`, while `kairan relay` sends the fan-out to Postfix's
smtp-sink and is killed with SIGKILL at random moments (several times) and
restarted.  Afterwards: smtp-sink holds every member's copy of every post
(counted per (post number, recipient) from its dumps), duplicates stay
within the transactions in flight at each kill, the archive holds posts
1..100 exactly once (X-Mail-Count = file name) and the queue is empty.

KAIRAN_LONG_TESTS=1: 300 posts to 3,000 members and more kills."""
import collections
import random
import re
import threading
import time

from kt import *

t = Tap()
if not which("smtp-sink"):
    t.skip_all("smtp-sink (postfix) not installed")

LONG = os.environ.get("KAIRAN_LONG_TESTS") == "1"
POSTS, MEMBERS, KILLS = (300, 3000, 12) if LONG else (100, 1000, 5)
PER_TXN, PAR = 50, 4
seed = int(os.environ.get("KAIRAN_SEED") or time.time())
rnd = random.Random(seed)
t.diag(f"seed {seed} (KAIRAN_SEED to repeat): {POSTS} posts x {MEMBERS} members, {KILLS} kills")

inst = Instance()
inst.newlist("crash")
inst.config("crash", "post_policy", "anyone")
members = [f"m{i:05d}@example.test" for i in range(MEMBERS)]
bulk_members(inst, "crash", members)
sink = Sink()
relay = None
results = {}


def poster():
    for i in range(1, POSTS + 1):
        msg = make_msg(to=f"crash@{DOMAIN}", subject=f"post {i}", msgid=f"<crash{i}@example.org>",
                       frm="Poster <poster@example.org>", body=f"Post {i}.\n" + "x" * 200 + "\n")
        r = inst.deliver("crash", msg, sender="poster@example.org")
        results[i] = (r.returncode, r.stderr)
        time.sleep(rnd.uniform(0, 0.02))


COUNT_RE = re.compile(rb"^X-Mail-Count: *(\d+)", re.M | re.I)


def per_post_counts():
    """Counter of (post number, recipient) over every sink transaction."""
    c = collections.Counter()
    for _, rcpts, data in sink.transactions():
        m = COUNT_RE.search(data)
        n = int(m.group(1)) if m else -1
        for r in rcpts:
            c[(n, r.strip("<>"))] += 1
    return c


start = time.time()
try:
    relay = Relay(inst, conf={"routes": f"example.test=[127.0.0.1]:{sink.port}",
                              "max_rcpt_per_txn": str(PER_TXN), "smtp_max_per_destination": str(PAR),
                              "retry_min": "1", "retry_max": "2"})
    th = threading.Thread(target=poster)
    th.start()
    kills = 0
    while kills < KILLS:
        time.sleep(rnd.uniform(0.1, 0.8))
        relay.kill()
        kills += 1
        time.sleep(rnd.uniform(0, 0.3))
        relay.start()
    th.join()
    t.diag(f"{kills} kills; posting done after {time.time() - start:.1f} s, "
           f"{len(sink.recipients())} copies received so far")
    t.eq(sorted(results), list(range(1, POSTS + 1)), "every deliver run finished")
    bad = {i: r for i, r in results.items() if r[0] != 0}
    t.ok(not bad, f"all {POSTS} deliver runs exit 0", "\n".join(f"{i}: {r}" for i, r in list(bad.items())[:5]))
    t.ok(kills >= 3, f"relay killed with -9 {kills} times while posts and fan-out ran")

    want = POSTS * MEMBERS
    t.ok(wait_for(lambda: len(set(sink.recipients())) >= MEMBERS and
                  "Mail queue is empty" in inst.check("queue"), 90 if LONG else 45, 0.3),
         "queue drained after the last restart")
    counts = per_post_counts()
    expected = {(n, a) for n in range(1, POSTS + 1) for a in members}
    missing = expected - set(counts)
    t.ok(not missing, f"every member copy of every post received ({len(expected - missing)} of {want})",
         f"{len(missing)} missing, e.g. {sorted(missing)[:5]}")
    extra = set(counts) - expected
    t.ok(not extra, "nothing but member copies of posts 1..N at the sink", sorted(extra)[:5])
    dups = sum(c - 1 for c in counts.values())
    bound = kills * PAR * PER_TXN
    t.diag(f"{dups} duplicate copies")
    t.ok(dups <= bound, f"duplicates ({dups}) within the transactions in flight ({kills} kills x {PAR * PER_TXN})")

    nums = inst.archive_numbers("crash")
    t.eq(nums, list(range(1, POSTS + 1)), f"archive holds 1..{POSTS}, contiguous")
    mc = [int(inst.archive("crash", n)["X-Mail-Count"]) for n in nums]
    t.eq(mc, nums, "X-Mail-Count matches every archive number")
    subjects = collections.Counter(re.sub(r"^\[crash:\d+\] ", "", str(inst.archive("crash", n)["Subject"]))
                                   for n in nums)
    t.eq(sorted(subjects), sorted(f"post {i}" for i in range(1, POSTS + 1)), "every post archived exactly once")
    t.ok("Mail queue is empty" in inst.check("queue"), "queue empty at the end")
    t.eq(os.listdir(inst.path("queue", "env")), [], "no envelope left in queue/env")
    t.diag(f"total {time.time() - start:.1f} s")
finally:
    if relay:
        relay.stop()
    sink.cleanup()
t.done()
