#!/usr/bin/env python3
"""web_bench.py - throughput and latency of the web interface (not run by CI).

Makes an instance with a public archive of POSTS posts, starts `kairan web`
on a free loopback port, and fetches pages over CONNS keep-alive connections
(Python threads, http.client); then the same pages through cgi/kairan.cgi
(one process per request).  Prints requests/s and p50/p99 latencies.

    KAIRAN=./kairan KAIRAN_CGI=./cgi/kairan.cgi PYTHONPATH=tests/e2e \\
        python3 tests/bench/web_bench.py [POSTS [REQUESTS [CONNS]]]

With --api [MEMBERS] (default 100,000) it measures the member roster and
the REST API instead: a list of MEMBERS members (written straight into
kairan.db, as an import would), then over one keep-alive connection the
web's members page (50 of them, logged in as the owner) and GET
/api/v1/lists/LIST/members?limit=50 (first page, a page in the middle,
a q search), median and p99 ms, the same through the CGI, and list
creation by POST /api/v1/lists (lists/s); then, when Debian's mailman3
is installed, tests/bench/mailman3_rest.py does the same with Mailman 3's
REST API on a roster of the same size, for the figures side by side.
"""
import http.client
import os
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "e2e"))
from kt import Instance, WebClient, WebServer, make_msg  # noqa: E402

if "--api" in sys.argv:
    sys.argv.remove("--api")
    import api_bench  # noqa: E402  (tests/bench/api_bench.py)
    members = int(sys.argv[1]) if len(sys.argv) > 1 else 100000
    api_bench.main(members)
    import shutil
    import subprocess
    if shutil.which("mailman"):
        subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), "mailman3_rest.py"), str(members)])
    else:
        print("Mailman 3: not installed (apt-get install mailman3), not measured")
    sys.exit(0)

POSTS = int(sys.argv[1]) if len(sys.argv) > 1 else 200
REQS = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
CONNS = int(sys.argv[3]) if len(sys.argv) > 3 else 8

inst = Instance()
inst.newlist("team", owner="owner@example.org")
inst.subscribe("team", "member@example.org")
inst.config("team", "archive_access", "public")
for i in range(POSTS):
    inst.deliver("team", make_msg(subject=f"post {i}", body="text\n" * 40))
inst.clear_queue()

PAGES = ["/list/team/archive", f"/list/team/archive/{POSTS // 2}", "/list/team/archive/thread", "/login"]


def run(port, path, n, conns):
    lat = []
    lock = threading.Lock()

    def worker(k):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine = []
        for _ in range(k):
            t0 = time.perf_counter()
            c.request("GET", path)
            r = c.getresponse()
            r.read()
            assert r.status == 200, r.status
            mine.append(time.perf_counter() - t0)
        c.close()
        with lock:
            lat.extend(mine)

    per = n // conns
    ths = [threading.Thread(target=worker, args=(per,)) for _ in range(conns)]
    t0 = time.perf_counter()
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    wall = time.perf_counter() - t0
    lat.sort()
    return len(lat) / wall, lat[len(lat) // 2] * 1000, lat[int(len(lat) * 0.99) - 1] * 1000


with WebServer(inst) as srv:
    print(f"kairan web, {POSTS} posts, {REQS} requests over {CONNS} keep-alive connections")
    for p in PAGES:
        rps, p50, p99 = run(srv.port, p, REQS, CONNS)
        print(f"  GET {p:32s} {rps:8.0f} req/s   p50 {p50:6.2f} ms   p99 {p99:6.2f} ms")

c = WebClient(inst, cgi=True)
print("cgi/kairan.cgi (one process per request)")
for p in PAGES:
    times = []
    for _ in range(50):
        t0 = time.perf_counter()
        r = c.get(p)
        assert r.status == 200
        times.append(time.perf_counter() - t0)
    print(f"  GET {p:32s} {1 / statistics.mean(times):8.0f} req/s   p50 {statistics.median(times) * 1000:6.2f} ms")
