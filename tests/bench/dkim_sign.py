#!/usr/bin/env python3
"""dkim_sign.py - what DKIM signing and the filter hook cost per post:
`kairan deliver` of N posts (10 members) with no key, an RSA-2048 key, an
Ed25519 key, then Ed25519 with a trivial filter_command.  Prints posts/s.
Run by hand:  KAIRAN=./kairan python3 tests/bench/dkim_sign.py [N]"""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
from kt import Instance, make_msg, DOMAIN  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 else 200
BODY = "Lorem ipsum dolor sit amet, consectetur adipiscing elit.\n" * 60   # ~3.5 KB


def run(label, inst):
    start = time.time()
    for i in range(N):
        r = inst.deliver("team", make_msg(subject=f"bench {i}", body=BODY))
        assert r.returncode == 0, r.stderr
    took = time.time() - start
    print(f"{label:28s} {N / took:7.1f} posts/s  {1000 * took / N:6.2f} ms/post")


def fresh():
    inst = Instance()
    inst.newlist("team")
    inst.subscribe("team", *[f"m{i}@example.net" for i in range(10)])
    inst.config("team", "post_policy", "anyone")
    return inst


print(f"kairan deliver, {N} posts of ~3.5 KB, 10 members each")
run("no DKIM key", fresh())
inst = fresh()
inst.check("dkim-keygen", DOMAIN, "--enable")
run("rsa-sha256 (2048 bit)", inst)
inst = fresh()
inst.check("dkim-keygen", DOMAIN, "--type", "ed25519", "--enable")
run("ed25519-sha256", inst)
script = os.path.join(inst.home, "filter.sh")
with open(script, "w") as f:
    f.write("#!/bin/sh\ncat >/dev/null\nexit 0\n")
os.chmod(script, 0o755)
conf = open(inst.path("kairan.conf")).read().replace("[global]\n", f"[global]\nfilter_command={script}\n", 1)
open(inst.path("kairan.conf"), "w").write(conf)
run("ed25519 + filter_command", inst)
