"""test_relay_crash.py - kill -9 of `kairan relay` during a 10,000-recipient
fan-out, twice, then a restart: every member is delivered at least once
(smtp-sink's dumps), and duplicates stay within the transactions that
were in flight at the kill (smtp_max_per_destination x max_rcpt_per_txn)."""
import collections
import time

from kt import *

t = Tap()
if not which("smtp-sink"):
    t.skip_all("smtp-sink (postfix) not installed")

N = 10000
PER_TXN, PAR = 10, 2
inst = Instance()
inst.newlist("big")
inst.config("big", "post_policy", "anyone")
members = [f"user{i:05d}@example.test" for i in range(N)]
bulk_members(inst, "big", members)
sink = Sink()
relay = None


def files():
    return len(os.listdir(sink.dir))


try:
    relay = Relay(inst, conf={"routes": f"example.test=[127.0.0.1]:{sink.port}",
                              "max_rcpt_per_txn": str(PER_TXN), "smtp_max_per_destination": str(PAR),
                              "retry_min": "1", "retry_max": "2"})
    r = inst.deliver("big", make_msg(to=f"big@{DOMAIN}", subject="fan-out"), sender="poster@example.org")
    t.eq(r.returncode, 0, "post to 10,000 members accepted")
    kills = 0
    for threshold in (N // PER_TXN // 10, N // PER_TXN // 2):
        end = time.time() + 30
        while files() < threshold and time.time() < end:
            time.sleep(0.001)
        if files() < N // PER_TXN:
            relay.kill()
            kills += 1
            t.diag(f"killed the relay with -9 after {files()} transactions")
            relay.start()
    t.ok(kills >= 1, f"relay killed mid fan-out ({kills} times)")
    t.ok(wait_for(lambda: len(set(sink.recipients())) >= N, 60, 0.2), "every member delivered after the restarts",
         f"{len(set(sink.recipients()))} of {N}")
    counts = collections.Counter(sink.recipients())
    t.eq(set(r.strip("<>") for r in counts), set(members), "exactly the members")
    dups = sum(c - 1 for c in counts.values())
    t.ok(dups <= kills * PAR * PER_TXN, f"duplicates ({dups}) limited to the transactions in flight "
         f"({kills} kills x {PAR * PER_TXN})")
    t.ok(wait_for(lambda: "Mail queue is empty" in inst.check("queue"), 10), "queue empty at the end")
finally:
    if relay:
        relay.stop()
    sink.cleanup()
t.done()
