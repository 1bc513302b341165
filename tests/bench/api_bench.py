"""api_bench.py - the roster and REST API part of web_bench.py (--api):
run as `python3 tests/bench/web_bench.py --api [MEMBERS]`.

Builds a list of MEMBERS members directly in kairan.db (one transaction,
as an import would), then measures over one keep-alive connection to
`kairan web`: the web's members page (50 members, owner session), GET
/api/v1/lists/big/members?limit=50 at offset 0, in the middle, and with
a q search; the same API call through cgi/kairan.cgi; and list creation
by POST /api/v1/lists.  Prints median and p99 ms (lists/s for creation).
"""
import http.client
import json
import sqlite3
import statistics
import sys
import time

from kt import Instance, WebClient, WebServer


def pct(lat, p):
    lat = sorted(lat)
    return lat[min(len(lat) - 1, int(len(lat) * p))] * 1000


def timed(conn, method, path, headers, body=None, n=200, want=200):
    lat = []
    for _ in range(n):
        t0 = time.perf_counter()
        conn.request(method, path, body=body, headers=headers)
        r = conn.getresponse()
        r.read()
        lat.append(time.perf_counter() - t0)
        assert r.status == want, (path, r.status)
    return lat


def main(members):
    inst = Instance()
    pw = "owner-pass-1"
    inst.newlist("big", owner="owner@example.org", password=pw)
    db = sqlite3.connect(inst.path("kairan.db"))
    t0 = time.perf_counter()
    with db:
        db.executemany("INSERT INTO members(list, address, name, since) VALUES('big', ?, ?, 1764547200)",
                       ((f"user{i:06d}@example{i % 50}.test", f"User {i}") for i in range(members)))
    db.close()
    print(f"roster: {members} members written in {time.perf_counter() - t0:.1f} s (sqlite, one transaction)")
    tok = inst.check("api-token", "new").strip()
    auth = {"Authorization": f"Bearer {tok}"}
    conf = inst.path("kairan.conf")
    text = open(conf).read().replace("[global]\n", "[global]\napi_rate_limit=0\n", 1)
    open(conf, "w").write(text)
    with WebServer(inst) as srv:
        web = WebClient(inst, server=srv)
        r = web.login("big", "owner@example.org", pw)
        assert r.status == 303, r.status
        cookie = {"Cookie": "; ".join(f"{k}={v}" for k, v in web.cookies.items())}
        c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=60)
        mid = members // 2
        rows = [
            ("web  GET /admin/big/members (page 1)", "/admin/big/members", cookie),
            (f"web  GET /admin/big/members (page {mid // 50 + 1})", f"/admin/big/members?page={mid // 50 + 1}", cookie),
            ("api  GET members?limit=50", "/api/v1/lists/big/members?limit=50", auth),
            (f"api  GET members?limit=50&offset={mid}", f"/api/v1/lists/big/members?limit=50&offset={mid}", auth),
            ("api  GET members?limit=50&q=user04999", "/api/v1/lists/big/members?limit=50&q=user04999", auth),
        ]
        print(f"kairan web, one keep-alive connection, {members} members")
        for label, path, h in rows:
            timed(c, "GET", path, h, n=5)          # warm
            lat = timed(c, "GET", path, h, n=200)
            print(f"  {label:48s} median {statistics.median(lat) * 1000:7.2f} ms   p99 {pct(lat, 0.99):7.2f} ms")
        r = json.loads((c.request("GET", "/api/v1/lists/big/members?limit=50", headers=auth), c.getresponse().read())[1])
        assert r["total"] == members and len(r["members"]) == 50
        n = 200
        h = dict(auth, **{"Content-Type": "application/json"})
        t0 = time.perf_counter()
        for i in range(n):
            c.request("POST", "/api/v1/lists", body=json.dumps({"name": f"new{i:04d}", "owner": "o@example.org"}), headers=h)
            r = c.getresponse()
            r.read()
            assert r.status == 201, r.status
        wall = time.perf_counter() - t0
        print(f"  {'api  POST /api/v1/lists':48s} {n / wall:7.0f} lists/s ({n} lists, one by one)")
        c.close()
    cgi = WebClient(inst, cgi=True)
    lat = []
    for _ in range(50):
        t0 = time.perf_counter()
        r = cgi.request("GET", "/api/v1/lists/big/members?limit=50", headers=auth)
        assert r.status == 200, r.status
        lat.append(time.perf_counter() - t0)
    print("cgi/kairan.cgi (one process per request)")
    print(f"  {'api  GET members?limit=50':48s} median {statistics.median(lat) * 1000:7.2f} ms   p99 {pct(lat, 0.99):7.2f} ms")
    sys.stdout.flush()
