#!/usr/bin/env python3
"""bench_ctl.py - figures for command mail: time per command mail
(`kairan deliver --ctl`) for a few typical mails, the 10,000-line mail cut
at max_commands, mget of 100 posts, and a DSN at -admin.  Prints figures;
not a test.  Run from the build tree:
    KAIRAN=./kairan KAIRAN_TEMPLATES=templates PYTHONPATH=tests/e2e python3 tests/bench/bench_ctl.py
"""
import os
import time
from kt import Instance, ctl_mail, make_msg, corpus_files

inst = Instance()
inst.newlist("team", owner="owner@example.org")
inst.subscribe("team", *[f"m{i}@example.org" for i in range(500)])
inst.config("team", "post_policy", "anyone")
for i in range(100):
    inst.deliver("team", make_msg(subject=f"post {i}", body="x" * 3000 + "\n"), sender="m1@example.org")


def bench(name, raw, mode="--ctl", sender="m1@example.org", n=50):
    start = time.time()
    for _ in range(n):
        r = inst.deliver("team", raw, sender=sender, mode=mode)
        assert r.returncode == 0, r.stderr
    dt = (time.time() - start) / n
    print(f"{name:45s} {dt * 1000:8.1f} ms/mail")
    inst.clear_queue()


bench("status (1 command)", ctl_mail("status", frm="m1@example.org"))
bench("help + summary + index (3 commands)", ctl_mail("help\nsummary\nindex", frm="m1@example.org"))
bench("members (500 members)", ctl_mail("members", frm="m1@example.org"))
bench("10,000-line mail cut at 20 commands", ctl_mail("".join(f"status {i}\n" for i in range(10000)),
                                                         frm="m1@example.org"), n=20)
bench("mget 1-100 (split at 1 MB)", ctl_mail("mget 1-100", frm="m1@example.org"), n=10)
dsn = [p for p in corpus_files("dsn") if p.endswith("postfix-01.eml")]
if dsn:
    bench("RFC 3464 DSN at -admin", open(dsn[0], "rb").read(), mode="--admin", sender="")
