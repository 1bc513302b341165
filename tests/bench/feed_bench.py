#!/usr/bin/env python3
"""feed_bench.py - the Atom feed of a public archive (not run by CI).

Makes an instance with a public archive of POSTS posts (half of them
Japanese ISO-2022-JP), starts `kairan web`, and fetches
/list/team/feed.atom (20 entries, each parsed from its archive file for
its summary) over CONNS keep-alive connections; beside it the archive's
index page of the same server, and the very same feed bytes served as a
static file by Python's threading http.server (the peer: what serving a
pre-rendered feed costs on this machine, as a static archiver such as
MHonArc or a cached HyperKitty feed would), and the conditional GET a
polling feed reader makes (If-None-Match: 304).  Then the CGI (one process a
request).  Also the cost of Archived-At on the posting path: `kairan
deliver` with archived_at = yes and = no.

    KAIRAN=./kairan KAIRAN_CGI=./cgi/kairan.cgi python3 tests/bench/feed_bench.py [POSTS [REQUESTS [CONNS]]]
"""
import email.header
import functools
import http.server
import os
import statistics
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "e2e"))
from kt import Instance, WebClient, WebServer, make_msg, set_global, free_port  # noqa: E402
import http.client  # noqa: E402


def run(port, path, n, conns, headers=None, status=200):
    """n GETs of path over conns keep-alive connections (web_bench.py's
    load generator): requests/s, p50 and p99 ms."""
    lat = []
    lock = threading.Lock()

    def worker(k):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine = []
        for _ in range(k):
            t0 = time.perf_counter()
            c.request("GET", path, headers=headers or {})
            r = c.getresponse()
            r.read()
            assert r.status == status, r.status
            mine.append(time.perf_counter() - t0)
        c.close()
        with lock:
            lat.extend(mine)

    ths = [threading.Thread(target=worker, args=(n // conns,)) for _ in range(conns)]
    t0 = time.perf_counter()
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    wall = time.perf_counter() - t0
    lat.sort()
    return len(lat) / wall, lat[len(lat) // 2] * 1000, lat[int(len(lat) * 0.99) - 1] * 1000

POSTS = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
REQS = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
CONNS = int(sys.argv[3]) if len(sys.argv) > 3 else 8


def jis_msg(i):
    subj = email.header.Header(f"会議のお知らせ {i}", "iso-2022-jp").encode()
    return (f"From: Yamada <y@example.org>\nTo: team@lists.example.test\nSubject: {subj}\n"
            f"Message-ID: <jb{i}.{time.time_ns()}@example.org>\nDate: Tue, 24 Nov 2026 09:30:00 +0900\n"
            "MIME-Version: 1.0\nContent-Type: text/plain; charset=iso-2022-jp\n\n").encode() + \
        ("来週の会議は水曜日です。\n" * 20).encode("iso-2022-jp")


inst = Instance()
inst.newlist("team", owner="owner@example.org")
inst.subscribe("team", "member@example.org")
inst.config("team", "archive_access", "public")
port = free_port()
set_global(inst, "web_url", f"http://127.0.0.1:{port}/")

# Archived-At on the posting path
for setting in ("yes", "no", "yes", "no"):
    inst.config("team", "archived_at", setting)
    times = []
    for i in range(25):
        t0 = time.perf_counter()
        inst.deliver("team", make_msg(subject=f"timing {setting} {i}", body="text\n" * 40))
        times.append(time.perf_counter() - t0)
    print(f"kairan deliver, archived_at = {setting:3s}: median {statistics.median(times) * 1000:6.2f} ms a post")
inst.config("team", "archived_at", "yes")
for i in range(POSTS - 100):
    inst.deliver("team", jis_msg(i) if i % 2 else make_msg(subject=f"post {i}", body="text\n" * 40))
inst.clear_queue()

static_dir = tempfile.mkdtemp(prefix="kairan-feed-static-")
with WebServer(inst, port=port) as srv:
    feed = WebClient(inst, server=srv).get("/list/team/feed.atom")
    assert feed.status == 200 and feed.body.count(b"<entry>") == 20, feed.status
    open(os.path.join(static_dir, "feed.atom"), "wb").write(feed.body)
    print(f"kairan web, {POSTS} posts, {REQS} requests over {CONNS} keep-alive connections "
          f"(feed: {len(feed.body)} bytes, 20 entries)")
    for p in ("/list/team/feed.atom", "/list/team/archive"):
        rps, p50, p99 = run(srv.port, p, REQS, CONNS)
        print(f"  kairan web    GET {p:24s} {rps:8.0f} req/s   p50 {p50:6.2f} ms   p99 {p99:6.2f} ms")
    rps, p50, p99 = run(srv.port, "/list/team/feed.atom", REQS, CONNS, {"If-None-Match": feed.header("ETag")}, 304)
    print(f"  kairan web    GET {'feed.atom, If-None-Match':24s} {rps:8.0f} req/s   p50 {p50:6.2f} ms   p99 {p99:6.2f} ms"
          "   (304)")


class Quiet(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass


sport = free_port()
httpd = http.server.ThreadingHTTPServer(("127.0.0.1", sport), functools.partial(Quiet, directory=static_dir))
th = threading.Thread(target=httpd.serve_forever, daemon=True)
th.start()
rps, p50, p99 = run(sport, "/feed.atom", REQS, CONNS)
print(f"  peer: static  GET {'/feed.atom (same bytes)':24s} {rps:8.0f} req/s   p50 {p50:6.2f} ms   p99 {p99:6.2f} ms"
      "   (Python ThreadingHTTPServer)")
httpd.shutdown()
httpd.server_close()
os.unlink(os.path.join(static_dir, "feed.atom"))
os.rmdir(static_dir)

c = WebClient(inst, cgi=True)
times = []
for _ in range(50):
    t0 = time.perf_counter()
    r = c.get("/list/team/feed.atom", headers={"Host": "lists.example.test"})
    assert r.status == 200
    times.append(time.perf_counter() - t0)
print(f"  cgi/kairan.cgi GET /list/team/feed.atom   {1 / statistics.mean(times):8.0f} req/s   "
      f"p50 {statistics.median(times) * 1000:6.2f} ms")
