"""test_relay_queue.py - queue control: `kairan queue --hold ID|ALL`,
`--release`, `--delete`, each optionally limited to the recipients at one
domain (--domain D).  A held message is shown with "!" after its ID and
"(held)" after each held recipient, is not sent by a running relay nor
after a restart, and goes out within seconds of --release; --delete
removes a message (or only one domain's recipients) without a bounce,
also while the relay is retrying it; an unknown ID exits 66; two actions
at once is a usage error (64).  Recipients arrive in a real smtp-sink."""
import re
import time

from kt import *

t = Tap()
if not which("smtp-sink"):
    t.skip_all("smtp-sink (postfix) not installed")

inst = Instance()
inst.newlist("team")
a_members = [f"a{i}@a.test" for i in range(3)]
b_members = [f"b{i}@b.test" for i in range(3)]
inst.subscribe("team", *a_members, *b_members)
sink = Sink()
dead = free_port()      # nothing listens here: c.test is always deferred
set_global(inst, routes=f"a.test=[127.0.0.1]:{sink.port};b.test=[127.0.0.1]:{sink.port};"
                        f"c.test=[127.0.0.1]:{dead}",
           retry_min="1", retry_max="2")


def got():
    return sorted(r.strip("<>") for r in sink.recipients())


def queue_ids():
    return [q["id"] for q in inst.queue()]


relay = None
try:
    # 1. hold one message before the relay runs; it survives a start
    r = inst.deliver("team", make_msg(subject="first", frm="A <a0@a.test>"), sender="a0@a.test")
    t.eq(r.returncode, 0, "post 1 accepted")
    ids = queue_ids()
    t.eq(len(ids), 1, "post 1 is in the queue")
    qid = ids[0]
    r = inst.run("queue", "--hold", qid)
    t.eq(r.returncode, 0, "kairan queue --hold ID exits 0")
    t.ok(b"held 6 recipients" in r.stdout, "--hold says how many recipients it held", r.stdout)
    q = inst.check("queue")
    t.ok(re.search(rf"^{qid}!", q, re.M), "kairan queue shows '!' after a held message's ID", q)
    t.eq(q.count("(held)"), 6, "each held recipient is marked (held)")
    relay = Relay(inst)
    time.sleep(3)
    t.eq(got(), [], "a held message is not sent by a starting relay")
    t.ok(qid in queue_ids(), "the held message stays queued")

    # 2. release: it goes out at once, the queue empties
    r = inst.run("queue", "--release", qid)
    t.eq(r.returncode, 0, "kairan queue --release ID exits 0")
    t.ok(sink.wait_recipients(6, 10), "released: every member receives post 1", got())
    t.eq(got(), sorted(a_members + b_members), "each member exactly once")
    t.ok(wait_for(lambda: "Mail queue is empty" in inst.check("queue"), 10), "queue empty after the release")

    # 3. --hold ALL --domain: one domain waits, the others get the post
    relay.stop()
    r = inst.deliver("team", make_msg(subject="second", frm="A <a0@a.test>"), sender="a0@a.test")
    t.eq(r.returncode, 0, "post 2 accepted")
    qid2 = queue_ids()[0]
    r = inst.run("queue", "--hold", "ALL", "--domain", "B.test")
    t.eq(r.returncode, 0, "--hold ALL --domain exits 0")
    t.ok(b"held 3 recipients in 1 message at B.test" in r.stdout, "--hold ALL --domain summary", r.stdout)
    q = inst.check("queue")
    t.ok(all(f"{b} (held)" in q for b in b_members) and not any(f"{a} (held)" in q for a in a_members),
         "only the b.test recipients are held (domain compared case-insensitively)", q)
    relay.start()
    t.ok(sink.wait_recipients(9, 10), "the a.test recipients get post 2")
    time.sleep(2)
    t.eq(len(sink.recipients()), 9, "the held b.test recipients do not")
    q = inst.check("queue")
    t.ok(re.search(rf"^{qid2}!", q, re.M) and "(3 of 6 recipients pending)" in q,
         "the message stays, held, with its 3 held recipients", q)

    # 4. --delete ALL --domain: those recipients are dropped, no bounce
    r = inst.run("queue", "--delete", "ALL", "--domain", "b.test")
    t.eq(r.returncode, 0, "--delete ALL --domain exits 0")
    t.ok(b"deleted 3 recipients" in r.stdout, "--delete says how many", r.stdout)
    t.ok(wait_for(lambda: "Mail queue is empty" in inst.check("queue"), 10),
         "the relay removes the message: nothing is pending", inst.check("queue"))
    time.sleep(1)
    t.eq(len(sink.recipients()), 9, "the deleted recipients never get post 2")
    t.ok("bounced" not in inst.log() and not any(q["sender"] == "" for q in inst.queue()),
         "no bounce for deleted recipients")

    # 5. --delete ID while the relay retries it: gone for good
    inst.subscribe("team", "c0@c.test")
    r = inst.deliver("team", make_msg(subject="third", frm="A <a0@a.test>"), sender="a0@a.test")
    t.eq(r.returncode, 0, "post 3 accepted")
    t.ok(sink.wait_recipients(15, 10), "post 3 reaches a.test and b.test")
    t.ok(wait_for(lambda: "c0@c.test" in inst.check("queue"), 10), "c0@c.test is deferred")
    qid3 = queue_ids()[0]
    r = inst.run("queue", "--delete", qid3)
    t.eq(r.returncode, 0, "kairan queue --delete ID exits 0")
    t.ok(b"deleted 1 recipient" in r.stdout, "--delete ID counts the pending recipient", r.stdout)
    time.sleep(3)
    t.ok("Mail queue is empty" in inst.check("queue"), "the deleted message stays gone while the relay runs")
    leftovers = [d for d in ("env", "msg", "state") if os.listdir(inst.path("queue", d))]
    t.eq(leftovers, [], "no envelope, content or journal file is left over")
    t.ok(f"{qid3}: deleted by the administrator" in inst.log(), "the deletion is logged")

    # 6. bad usage
    r = inst.run("queue", "--hold", "0000000000000FFFFFF")
    t.eq(r.returncode, 66, "an unknown ID exits 66")
    t.ok(b"no such message" in r.stderr, "... saying so", r.stderr)
    r = inst.run("queue", "--release", "nonsense/../../etc")
    t.eq(r.returncode, 66, "an ID that is no queue file name exits 66")
    r = inst.run("queue", "--hold", "ALL", "--delete", "ALL")
    t.eq(r.returncode, 64, "two actions at once: usage error 64")
    r = inst.run("queue", "--domain", "a.test")
    t.eq(r.returncode, 64, "--domain alone: usage error 64")
    r = inst.run("queue", "--hold", "ALL")
    t.eq(r.returncode, 0, "--hold ALL on an empty queue exits 0")
    t.ok(b"held 0 recipients in 0 messages" in r.stdout, "... holding nothing", r.stdout)
finally:
    if relay:
        relay.stop()
    sink.cleanup()
t.done()
