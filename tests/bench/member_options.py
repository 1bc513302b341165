#!/usr/bin/env python3
"""member_options.py - what the per-member options cost the fan-out.

`kairan deliver` of a 2 KB post to a list of N members (numbering,
archive, the recipients query, the queue entry; no relay), median wall
time of RUNS runs, in these cases:

  none      no member option set (the common case)
  options   10% of the members on vacation until next year, 10% with
            nodupes of whom 100 are in the post's Cc, and the author
            without receive_own_posts: the query leaves them out

and, with BASE=path/to/older/kairan, the same "none" case with a build
without the options (the fan-out query before them), side by side.  The
peers' end-to-end fan-out figures come from tests/bench/fanout.sh (mlmmj,
smtp-source); PEERS=1 runs it for the largest N (MODES=plain, mlmmj
verp:1000), which takes a few minutes.

usage: tests/bench/member_options.py [N...]   (default 10000 100000)
  env: KAIRAN=build/kairan BASE= RUNS=9 PEERS=0
Prints one RESULT line per case.  Not run by CI."""
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import shutil
import datetime

HERE = os.path.dirname(os.path.abspath(__file__))
KAIRAN = os.path.abspath(os.environ.get("KAIRAN") or os.path.join(HERE, "..", "..", "build", "kairan"))
BASE = os.environ.get("BASE")
RUNS = int(os.environ.get("RUNS", "9"))
NS = [int(x) for x in sys.argv[1:]] or [10000, 100000]


def post(n, cc):
    return (f"From: user0@example.test\nTo: bench@lists.example.test\n{cc}Subject: bench\n"
            f"Message-ID: <bench.{time.time_ns()}.{n}@example.test>\nMIME-Version: 1.0\n"
            f"Content-Type: text/plain; charset=utf-8\n\n" + "The quick brown fox jumps over the lazy dog.\n" * 45).encode()


def instance(kairan, n, options):
    home = tempfile.mkdtemp(prefix="kairan-bench-mo-")
    run = lambda *a: subprocess.run([kairan, "--home", home, *a], check=True, capture_output=True)
    run("init", "--domain", "lists.example.test")
    run("newlist", "bench")
    run("config", "bench", "max_size", "0")
    run("config", "bench", "duplicate_window", "0")
    db = sqlite3.connect(os.path.join(home, "kairan.db"))
    with db:
        db.executemany("INSERT INTO members(list, address, since) VALUES('bench', ?, 0)",
                       ((f"user{i}@example.test",) for i in range(n)))
        if options:
            until = int(time.time()) + 365 * 86400
            db.execute("UPDATE members SET vacation_until = ? WHERE list = 'bench' AND"
                       " CAST(substr(address, 5, instr(address, '@') - 5) AS INTEGER) % 10 = 1", (until,))
            db.execute("UPDATE members SET nodupes = 1 WHERE list = 'bench' AND"
                       " CAST(substr(address, 5, instr(address, '@') - 5) AS INTEGER) % 10 = 2")
            db.execute("UPDATE members SET receive_own = 0 WHERE list = 'bench' AND address = 'user0@example.test'")
    db.close()
    return home


def measure(kairan, home, n, options):
    cc = ""
    if options:
        cc = "Cc: " + ", ".join(f"user{i}@example.test" for i in range(2, 1002, 10)) + "\n"
    times = []
    for i in range(RUNS + 1):
        data = post(n, cc)
        t0 = time.perf_counter()
        r = subprocess.run([kairan, "--home", home, "deliver", "bench", "-f", "user0@example.test"], input=data,
                           capture_output=True)
        dt = time.perf_counter() - t0
        if r.returncode != 0:
            sys.exit(f"deliver failed: {r.stderr.decode()}")
        if i:                       # the first run warms the caches
            times.append(dt)
        for sub in ("env", "msg"):
            d = os.path.join(home, "queue", sub)
            for f in os.listdir(d):
                os.unlink(os.path.join(d, f))
    rcpts = None
    log = open(os.path.join(home, "log", "kairan.log"), errors="replace").read().splitlines()
    for line in reversed(log):
        if "recipient(s)" in line:
            rcpts = line.rsplit("for ", 1)[1].split()[0]
            break
    return statistics.median(times) * 1000, rcpts


for n in NS:
    cases = [("none", KAIRAN, False), ("options", KAIRAN, True)]
    if BASE:
        cases.insert(0, ("base-none", os.path.abspath(BASE), False))
    for name, k, options in cases:
        home = instance(k, n, options)
        try:
            ms, rcpts = measure(k, home, n, options)
        finally:
            shutil.rmtree(home, ignore_errors=True)
        print(f"RESULT\tdeliver-fanout\tcase={name}\tmembers={n}\trecipients={rcpts}\tmedian_ms={ms:.1f}\truns={RUNS}",
              flush=True)

if os.environ.get("PEERS") == "1":
    env = dict(os.environ, KAIRAN=KAIRAN, MODES="plain", RUNS="1")
    subprocess.run(["bash", os.path.join(HERE, "fanout.sh"), str(max(NS) if max(NS) <= 10000 else 10000)], env=env)
