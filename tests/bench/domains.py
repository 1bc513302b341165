#!/usr/bin/env python3
"""domains.py - what several domains cost (issue 15).  One instance with
10 added domains and 1,100 lists (100 in each domain and 100 in the
default one), two lists of N members called bench: the default domain's
and bench@d5.example.  Side by side, in the same run:

  deliver    median wall time of `kairan deliver` of a 10 KB post to each
             (N = 1,000 and 10,000): the id lookup must not show
  fanout     `kairan deliver` to the sink's last recipient through a
             running `kairan relay` (N = 1,000 and 5,000), for each list;
             peer: mlmmj 1.3.0 fanning the same N out in transactions of
             1000 (../shared/bench/mlmmj-fanout.sh N verp:1000)
  rcpt       RCPTs per second the relay answers for list addresses of the
             default domain, of an added domain, and (peer: the loopback
             limit) smtp-sink answering the same client loop
  aliases    `kairan aliases --write` for the 1,100 lists (aliases +
             virtual), and Postfix's own postalias + postmap of the result

Prints one RESULT line per case (tab-separated).  Run by hand:
    tests/bench/domains.py [path/to/kairan]      env: RUNS=11 MLMMJ=1
"""
import os
import shutil
import smtplib
import sqlite3
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
if len(sys.argv) > 1:
    os.environ["KAIRAN"] = os.path.abspath(sys.argv[1])
else:
    os.environ.setdefault("KAIRAN", os.path.join(HERE, "..", "..", "build", "kairan"))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
from kt import Instance, Relay, Sink, free_port, set_global, SHARED, KAIRAN  # noqa: E402

RUNS = int(os.environ.get("RUNS", "11"))
LISTS = ("bench", "bench@d5.example")


def result(*fields):
    print("RESULT\t" + "\t".join(str(f) for f in fields), flush=True)


def fill(inst, list_id, n):
    db = sqlite3.connect(inst.path("kairan.db"), timeout=30)
    with db:
        db.execute("DELETE FROM members WHERE list = ?", (list_id,))
        db.executemany("INSERT INTO members(list, address, since) VALUES(?, ?, 0)",
                       [(list_id, f"user{i}@example.test") for i in range(n)])
    db.close()


inst = Instance(domain="lists.example.test")
for d in range(10):
    inst.check("domain", "add", f"d{d}.example")
db = sqlite3.connect(inst.path("kairan.db"), timeout=30)
with db:     # 100 lists a domain straight into the table (newlist 1,100 times would take a minute)
    for d in [None] + [f"d{k}.example" for k in range(10)]:
        for i in range(100):
            db.execute("INSERT INTO lists(name, created, seq) VALUES(?, 0, 0)",
                       (f"l{i:03d}" + (f"@{d}" if d else ""),))
db.close()
for lst in LISTS:
    inst.check("newlist", lst)
    inst.config(lst, "max_size", "0")
body = ("The quick brown fox jumps over the lazy dog. 0123456789 abcdefghij\n" * 150)[:10000]
post = lambda to: (f"From: user0@example.test\nTo: {to}\nSubject: bench\nMessage-ID: <{time.time_ns()}@x>\n\n"
                   + body).encode()

# ---- deliver ----
for n in (1000, 10000):
    for lst in LISTS:
        fill(inst, lst, n)
        inst.deliver(lst, post(lst), sender="user0@example.test")          # warm-up
        times = []
        for _ in range(RUNS):
            data = post(lst)
            t0 = time.perf_counter()
            r = inst.deliver(lst, data, sender="user0@example.test")
            times.append(time.perf_counter() - t0)
            if r.returncode != 0:
                sys.exit(f"deliver {lst} failed: {r.stderr.decode()}")
            inst.clear_queue()
        result("deliver-10KB", f"list={lst}", f"members={n}", f"median_ms={statistics.median(times) * 1000:.2f}",
               f"runs={RUNS}")

# ---- fan-out through the relay ----
sink = Sink()
relay = Relay(inst, conf={"routes": f"example.test=[127.0.0.1]:{sink.port}", "retry_min": "1",
                          "mynetworks": "192.0.2.0/24"})
try:
    for n in (1000, 5000):
        for lst in LISTS:
            fill(inst, lst, n)
            times = []
            for _ in range(3):
                sink.stop()
                shutil.rmtree(sink.dir, ignore_errors=True)
                sink = Sink(port=sink.port)
                t0 = time.perf_counter()
                inst.deliver(lst, post(lst), sender="user0@example.test")
                if not sink.wait_recipients(n, timeout=300):
                    sys.exit(f"fan-out of {lst}: only {len(sink.recipients())} of {n}")
                times.append(time.perf_counter() - t0)
            med = statistics.median(times)
            result("kairan-fanout", f"list={lst}", f"N={n}", f"median_s={med:.3f}", f"rcpts_per_s={n / med:.0f}")

    # ---- RCPT answers ----
    def rcpt_rate(port, addrs, rounds=2000):
        s = smtplib.SMTP("127.0.0.1", port, timeout=60)
        s.ehlo("bench.example.org")
        t0 = time.perf_counter()
        done = 0
        while done < rounds:
            s.docmd("MAIL FROM:<user0@example.test>")
            for i in range(min(50, rounds - done)):
                code, _ = s.docmd(f"RCPT TO:<{addrs[i % len(addrs)]}>")
                if code != 250:
                    sys.exit(f"RCPT {addrs[i % len(addrs)]}: {code}")
                done += 1
            s.docmd("RSET")
        dt = time.perf_counter() - t0
        s.quit()
        return rounds / dt
    cases = (("default-domain", relay.port, ["bench@lists.example.test", "bench-ctl@lists.example.test"]),
             ("added-domain", relay.port, ["bench@d5.example", "bench-ctl@d5.example", "l050@d9.example"]),
             ("peer-smtp-sink", sink.port, ["x@example.test"]))
    rates = {label: [] for label, _, _ in cases}
    for _ in range(5):                   # alternating, so a busy moment hits every case alike
        for label, port, addrs in cases:
            rates[label].append(rcpt_rate(port, addrs))
    for label, _, _ in cases:
        result("relay-rcpt" if not label.startswith("peer") else "peer-rcpt", label,
               f"median_rcpts_per_s={statistics.median(rates[label]):.0f}", "runs=5")
finally:
    relay.stop()
    sink.cleanup()

# ---- mlmmj, the peer of the fan-out ----
mlmmj = os.path.join(SHARED, "bench", "mlmmj-fanout.sh")
if os.environ.get("MLMMJ", "1") == "1" and os.path.exists(mlmmj) and os.path.exists("/usr/bin/mlmmj-receive"):
    for n in (1000, 5000):
        r = subprocess.run(["bash", mlmmj, str(n), "verp:1000"], capture_output=True, timeout=900,
                           env={**os.environ, "PORT": str(free_port()), "RUNS": "3"})
        for line in r.stdout.decode().splitlines():
            if line.startswith("RESULT"):
                print(line, flush=True)

# ---- alias maps ----
times = []
for _ in range(5):
    t0 = time.perf_counter()
    inst.check("aliases", "--write")
    times.append(time.perf_counter() - t0)
nlines = sum(1 for l in open(inst.path("virtual")) if not l.startswith("#"))
result("kairan-aliases-write", "lists=1102", f"virtual_lines={nlines}", f"median_ms={statistics.median(times) * 1000:.1f}")
if shutil.which("postalias") or os.path.exists("/usr/sbin/postalias"):
    env = {**os.environ, "PATH": "/usr/sbin:" + os.environ.get("PATH", "")}
    conf = inst.path("postfix-conf")              # postalias/postmap need a main.cf to read
    os.makedirs(conf, exist_ok=True)
    open(os.path.join(conf, "main.cf"), "w").write("compatibility_level = 3.6\n")
    for tool, f in (("postalias", "aliases"), ("postmap", "virtual")):
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            subprocess.run([tool, "-c", conf, inst.path(f)], check=True, env=env, capture_output=True)
            times.append(time.perf_counter() - t0)
        result(f"peer-{tool}", f, f"median_ms={statistics.median(times) * 1000:.1f}")
