"""test_relay_window.py - the relay hands a big fan-out to its workers a
window of recipients at a time (runner.c, RUNNER_WINDOW: 10,000; here
KAIRAN_TEST_RELAY_WINDOW=7 so that 130 members cross 19 window edges).
Through real smtp-sinks: every member gets the post exactly once; the
recipients of one domain that answers 4xx stay queued (not resent to the
others, not lost) while the other windows go on, and after the sink
comes back and `kairan flush`, they arrive exactly once and the queue
empties; a hold placed by `kairan queue --hold` on a late window's
domain holds; a relay killed in the middle and restarted resends only
what was not acknowledged (nothing twice beyond the transaction in
flight).  The peak RSS of the relay at 10,000 and 100,000 members is
measured by tests/bench/fanout.sh, not here."""
import collections
import time

from kt import *

t = Tap()
if not which("smtp-sink"):
    t.skip_all("smtp-sink (postfix) not installed")

os.environ["KAIRAN_TEST_RELAY_WINDOW"] = "7"
inst = Instance()
inst.newlist("big")
inst.config("big", "post_policy", "anyone")
a = [f"a{i:03d}@a.test" for i in range(60)]
b = [f"b{i:03d}@b.test" for i in range(40)]      # b.test answers 4xx at first
c = [f"c{i:03d}@c.test" for i in range(30)]
bulk_members(inst, "big", a + b + c)
sink_a = Sink()
sink_b = Sink(extra=["-r", "RCPT"])
sink_c = Sink()
set_global(inst, routes=f"a.test=[127.0.0.1]:{sink_a.port};b.test=[127.0.0.1]:{sink_b.port};"
                        f"c.test=[127.0.0.1]:{sink_c.port}",
           max_rcpt_per_txn="5", smtp_max_per_destination="2", retry_min="600", retry_max="600")


def counts(*sinks):
    n = collections.Counter()
    for s in sinks:
        for r in s.recipients():
            n[r.strip("<>")] += 1
    return n


def wait(cond, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return True
        time.sleep(0.2)
    return cond()


relay = None
try:
    relay = Relay(inst)
    r = inst.deliver("big", make_msg(to=f"big@{DOMAIN}", subject="windows"), sender="poster@example.org")
    t.eq(r.returncode, 0, "post accepted")
    t.ok(wait(lambda: len(counts(sink_a, sink_c)) == 90), "every member at a.test and c.test got the post",
         len(counts(sink_a, sink_c)))
    n = counts(sink_a, sink_c)
    t.eq(sorted(n), sorted(a + c), "exactly the members of a.test and c.test")
    t.eq(max(n.values()), 1, "each of them once, across 19 windows of 7")
    time.sleep(1)
    q = inst.queue()
    t.eq(len(q), 1, "the post stays queued for the deferred domain")
    qtext = inst.check("queue")
    t.ok(sum(1 for x in b if x in qtext) == 40, "kairan queue lists the 40 deferred b.test members", qtext[-300:])
    t.ok(not any(x in qtext for x in a[:3] + c[:3]), "delivered members are not listed as pending")

    # b.test comes back: a flush retries each deferred recipient once
    sink_b.stop()
    sink_b = Sink(port=sink_b.port)
    r = inst.run("flush")
    t.eq(r.returncode, 0, "kairan flush")
    t.ok(wait(lambda: len(counts(sink_b)) == 40), "after the flush every b.test member got it", len(counts(sink_b)))
    t.ok(wait(lambda: inst.queue() == []), "then the queue is empty", inst.check("queue"))
    n = counts(sink_a, sink_b, sink_c)
    t.eq(sorted(n), sorted(a + b + c), "in all: exactly the 130 members")
    t.eq(max(n.values()), 1, "nobody got it twice")

    # a hold on the last windows' domain (c.test) holds; the others go
    relay.stop()
    for s in (sink_a, sink_b, sink_c):
        s.stop()
    sink_a, sink_b, sink_c = Sink(port=sink_a.port), Sink(port=sink_b.port), Sink(port=sink_c.port)
    r = inst.deliver("big", make_msg(to=f"big@{DOMAIN}", subject="held part", msgid="<held-part@example.org>"),
                     sender="poster@example.org")
    t.eq(r.returncode, 0, "second post accepted")
    qid = inst.queue()[0]["id"]
    r = inst.run("queue", "--hold", qid, "--domain", "c.test")
    t.ok(r.returncode == 0, "kairan queue --hold ID --domain c.test", r.stderr)
    relay = Relay(inst)
    t.ok(wait(lambda: len(counts(sink_a, sink_b)) == 100), "a.test and b.test members got the second post",
         len(counts(sink_a, sink_b)))
    time.sleep(2)
    t.eq(len(counts(sink_c)), 0, "the held c.test recipients (the last windows) were not sent")
    t.ok(qid in [e["id"] for e in inst.queue()], "the message stays queued while part of it is held")
    r = inst.run("queue", "--release", qid)
    t.eq(r.returncode, 0, "kairan queue --release ID")
    t.ok(wait(lambda: len(counts(sink_c)) == 30), "released: the c.test members got it", len(counts(sink_c)))
    t.ok(wait(lambda: inst.queue() == []), "queue empty again")
    n = counts(sink_a, sink_b, sink_c)
    t.eq(max(n.values()), 1, "second post: nobody twice")
    t.eq(len(n), 130, "second post: all 130 members")

    # killed in the middle: a slow sink keeps the fan-out in flight
    relay.stop()
    for s in (sink_a, sink_b, sink_c):
        s.stop()
    sink_a = Sink(port=sink_a.port, extra=["-w", "1"])     # 1 s before each DATA reply
    sink_b, sink_c = Sink(port=sink_b.port), Sink(port=sink_c.port)
    r = inst.deliver("big", make_msg(to=f"big@{DOMAIN}", subject="killed", msgid="<killed@example.org>"),
                     sender="poster@example.org")
    t.eq(r.returncode, 0, "third post accepted")
    relay = Relay(inst)
    t.ok(wait(lambda: len(counts(sink_a)) >= 10, 20), "the slow sink got some a.test copies", len(counts(sink_a)))
    relay.kill()
    got_before = counts(sink_a, sink_b, sink_c)
    sink_a.stop()
    sink_a2 = Sink(port=sink_a.port)
    relay = Relay(inst)
    t.ok(wait(lambda: inst.queue() == [], 60), "after the restart the queue empties", inst.check("queue"))
    n = counts(sink_a, sink_a2, sink_b, sink_c)
    t.eq(sorted(n), sorted(a + b + c), "third post: every member got it across the kill")
    twice = [x for x, k in n.items() if k > 1]
    t.ok(len(twice) <= 5 * 2, "at most the transactions in flight at the kill came twice "
         "(max_rcpt_per_txn 5, 2 workers per destination)", twice)
    t.ok(all(x.startswith("a") for x in twice), "only at the slow destination", twice)
    t.diag(f"before the kill {len(got_before)} recipients; twice after the restart: {len(twice)}")
finally:
    if relay:
        relay.stop()
    for s in (sink_a, sink_b, sink_c):
        s.stop()
t.done()
