#!/usr/bin/env python3
"""site_bench.py - the costs the site admin's pages add (not run by CI).

    KAIRAN=./kairan KAIRAN_CGI=./cgi/kairan.cgi PYTHONPATH=tests/e2e \\
        python3 tests/bench/site_bench.py [LISTS [OWNED]]

1. List creation by POST /api/v1/lists, which now writes HOME/aliases
   again each time (the whole map: it grows with the lists): lists/s for
   the first 50 and for the last 50 of LISTS (default 500), and the same
   with aliases_postalias = yes (postalias after each); beside it
   `kairan newlist` (one process a list, which always wrote the map) and,
   as the peer, mlmmj-make-ml (mlmmj's list creation, which writes no
   alias map: its lines are printed for the admin to add).
2. The site admin's page /admin/site with LISTS lists: median and p99 ms
   through `kairan web` and through the CGI.
3. A login of an owner of OWNED lists (default 20) with one password:
   every owned list's password is checked (one PBKDF2 run each), against
   a login of an owner of one list.
Prints one RESULT line per figure (tab separated) and a table.
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "e2e"))
from kt import Instance, WebClient, WebServer, free_port, set_global  # noqa: E402

LISTS = int(sys.argv[1]) if len(sys.argv) > 1 else 500
OWNED = int(sys.argv[2]) if len(sys.argv) > 2 else 20
ROWS = []


def result(what, value, unit, note=""):
    ROWS.append((what, value, unit, note))
    print(f"RESULT\t{what}\t{value}\t{unit}\t{note}", flush=True)


def api_create(web, tok, name):
    r = web.request("POST", "/api/v1/lists", raw_body=json.dumps({"name": name, "owner": "o@example.org"}).encode(),
                    headers={"Authorization": "Bearer " + tok}, content_type="application/json")
    if r.status != 201:
        raise RuntimeError(f"create {name}: {r.status} {r.text[:200]}")


def creation(postalias):
    inst = Instance()
    if postalias:
        conf = inst.path("pfconf")
        os.makedirs(conf)
        with open(os.path.join(conf, "main.cf"), "w") as f:
            f.write(f"compatibility_level = 3.6\nalias_maps = hash:{inst.path('aliases')}\n")
        set_global(inst, aliases_postalias="yes", aliases_postfix_config=conf)
    set_global(inst, api_rate_limit="0")
    tok = inst.check("api-token", "new").strip()
    server = WebServer(inst)
    web = WebClient(inst, server=server)
    try:
        times = []
        for i in range(LISTS):
            t0 = time.perf_counter()
            api_create(web, tok, f"l{i:05d}")
            times.append(time.perf_counter() - t0)
    finally:
        server.stop()
    tag = " + postalias" if postalias else ""
    first, last = times[:50], times[-50:]
    result(f"API create{tag}, lists 1-50", round(len(first) / sum(first), 1), "lists/s")
    result(f"API create{tag}, lists {LISTS - 49}-{LISTS}", round(len(last) / sum(last), 1), "lists/s",
           f"map of {LISTS} lists rewritten each time")
    return inst


def alias_map(inst):
    """`kairan aliases` (the whole map written, fsynced) and postalias on it."""
    ts = []
    for _ in range(10):
        t0 = time.perf_counter()
        inst.check("aliases")
        ts.append((time.perf_counter() - t0) * 1000)
    result(f"kairan aliases: map of {LISTS} lists written (process included)", f"{statistics.median(ts):.1f}", "ms median")
    pa = shutil.which("postalias") or "/usr/sbin/postalias"
    if os.path.exists(pa):
        conf = inst.path("pfconf2")
        os.makedirs(conf, exist_ok=True)
        with open(os.path.join(conf, "main.cf"), "w") as f:
            f.write("compatibility_level = 3.6\n")
        ts = []
        for _ in range(10):
            t0 = time.perf_counter()
            subprocess.run([pa, "-c", conf, inst.path("aliases")], check=True)
            ts.append((time.perf_counter() - t0) * 1000)
        result(f"postalias of that map ({LISTS * 3} aliases)", f"{statistics.median(ts):.1f}", "ms median")


def newlist_cli():
    inst = Instance()
    n = 50
    t0 = time.perf_counter()
    for i in range(n):
        inst.check("newlist", f"c{i:03d}", "--owner", "o@example.org")
    result("kairan newlist (process per list), lists 1-50", round(n / (time.perf_counter() - t0), 1), "lists/s")


def mlmmj_peer():
    mk = shutil.which("mlmmj-make-ml")
    if not mk:
        result("mlmmj-make-ml", "-", "lists/s", "mlmmj not installed")
        return
    d = tempfile.mkdtemp(prefix="bench-mlmmj-")
    n = 50
    try:
        t0 = time.perf_counter()
        for i in range(n):
            # its prompts: domain, owner, language, then the questions it asks last
            subprocess.run([mk, "-L", f"m{i:03d}", "-s", d], input=b"example.test\no@example.org\nen\nN\n\n\n",
                           capture_output=True, timeout=60, check=True)
        result("mlmmj-make-ml (peer; no alias map), lists 1-50", round(n / (time.perf_counter() - t0), 1), "lists/s")
    except subprocess.CalledProcessError as e:
        result("mlmmj-make-ml", "-", "lists/s", "failed: " + e.stderr.decode(errors="replace")[:80])
    finally:
        shutil.rmtree(d, ignore_errors=True)


def timed_gets(client, path, n):
    ts = []
    for _ in range(n):
        t0 = time.perf_counter()
        r = client.get(path)
        ts.append((time.perf_counter() - t0) * 1000)
        if r.status != 200:
            raise RuntimeError(f"{path}: {r.status}")
    ts.sort()
    return statistics.median(ts), ts[int(len(ts) * 0.99) - 1]


def site_page(inst):
    inst.run("web", "--set-admin-password", stdin=b"bench-admin-pass\n")
    server = WebServer(inst)
    try:
        for kind, c, n in (("kairan web", WebClient(inst, server=server), 200), ("CGI", WebClient(inst, cgi=True), 50)):
            c.form_post("/login", data={"address": "root@example.org", "password": "bench-admin-pass"})
            med, p99 = timed_gets(c, "/admin/site", n)
            result(f"/admin/site with {LISTS} lists, {kind}", f"{med:.1f} / {p99:.1f}", "ms median / p99")
    finally:
        server.stop()


def login_cost():
    inst = Instance()
    pw = inst.path("pw")
    with open(pw, "w") as f:
        f.write("owner-pass-1\n")
    for i in range(OWNED):
        inst.check("newlist", f"own{i:03d}", "--owner", "many@example.org", "--password-file", pw)
    inst.check("newlist", "single", "--owner", "one@example.org", "--password-file", pw)
    server = WebServer(inst)
    try:
        for who, n in (("one@example.org", 1), ("many@example.org", OWNED)):
            ts = []
            for _ in range(10):
                c = WebClient(inst, server=server)
                csrf = c.csrf("/login")
                t0 = time.perf_counter()
                r = c.post("/login", {"csrf": csrf, "address": who, "password": "owner-pass-1"})
                ts.append((time.perf_counter() - t0) * 1000)
                if r.status != 303:
                    raise RuntimeError(f"login {who}: {r.status}")
            result(f"login of an owner of {n} list(s)", f"{statistics.median(ts):.0f}", "ms median")
    finally:
        server.stop()


inst = creation(False)
alias_map(inst)
if shutil.which("postalias") or os.path.exists("/usr/sbin/postalias"):
    creation(True)
newlist_cli()
mlmmj_peer()
site_page(inst)
login_cost()
print()
print(f"| {'what':<60} | {'figure':>16} | unit |")
for what, value, unit, note in ROWS:
    print(f"| {what:<60} | {str(value):>16} | {unit}{' (' + note + ')' if note else ''} |")
