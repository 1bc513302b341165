#!/usr/bin/env python3
"""test_queue_files.py - `kairan relay` on queue files a crash or another
version left behind (the format of src/lib/queue.c, README "The queue"):

  - a journal whose last line was torn by a crash: the recipient it was
    about is sent once, and the restarted relay's result line counts (it
    is not glued onto the torn one, which made the relay send a second
    copy);
  - an envelope that is garbage, and one of another version (V 2): left
    alone, logged, never removed nor sent."""
import os
import time

from kt import Tap, Instance, Sink, Relay, which, wait_for, DOMAIN

t = Tap()
if not which("smtp-sink"):
    t.skip_all("smtp-sink (postfix) not installed")

inst = Instance()
for sub in ("env", "msg", "state", "tmp"):
    os.makedirs(inst.path("queue", sub), exist_ok=True)


def new_id(n):
    return f"{int(time.time() * 1e6) + n:013X}{n:06X}"


def put(sub, qid, data):
    with open(inst.path("queue", sub, qid), "wb") as f:
        f.write(data)


body = (f"From: team-admin@{DOMAIN}\nTo: x@example.test\nSubject: queued\n"
        "Message-ID: <queued@example.org>\n\nbody\n").encode()
now = int(time.time())
torn, garbage, v2 = new_id(1), new_id(2), new_id(3)
put("msg", torn, body)
put("state", torn, b"D a@example.test\nF b@example.test 17")
put("env", torn, f"V 1\nT {now}\nS team-admin@{DOMAIN}\nR a@example.test\nR b@example.test\n".encode())
put("msg", garbage, body)
put("env", garbage, b"\x00\x01garbage, not an envelope\n")
put("msg", v2, body)
put("env", v2, f"V 2\nT {now}\nS team-admin@{DOMAIN}\nR c@example.test\nX new field\n".encode())

sink = Sink()
relay = None
try:
    relay = Relay(inst, conf={"routes": f"example.test=[127.0.0.1]:{sink.port}",
                              "retry_min": "1", "retry_max": "2"})
    t.ok(wait_for(lambda: not os.path.exists(inst.path("queue", "env", torn)), 20),
         "the message with a torn journal line is finished and removed")
    time.sleep(3)       # a retry (retry_min 1) would have sent a second copy by now
    rcpts = [r.strip("<>") for r in sink.recipients()]
    t.eq(rcpts.count("b@example.test"), 1, "the recipient of the torn line got exactly one copy")
    t.eq(rcpts.count("a@example.test"), 0, "the recipient journalled as delivered got none")
    for qid, what in ((garbage, "garbage envelope"), (v2, "version 2 envelope")):
        t.ok(os.path.exists(inst.path("queue", "env", qid)) and os.path.exists(inst.path("queue", "msg", qid)),
             f"{what}: envelope and content left alone")
    t.eq(rcpts.count("c@example.test"), 0, "nothing sent for the version 2 envelope")
    log = inst.log()
    t.ok(f"queue/env/{garbage} is not a version 1 envelope" in log and
         f"queue/env/{v2} is not a version 1 envelope" in log,
         "both are logged as not a version 1 envelope", log[-600:])
    r = inst.run("queue")
    t.eq(r.returncode, 0, "kairan queue still lists the queue")
finally:
    if relay:
        relay.stop()
    sink.cleanup()
t.done()
