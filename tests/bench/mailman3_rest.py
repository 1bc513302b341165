#!/usr/bin/env python3
"""mailman3_rest.py - Mailman 3's REST API (Debian mailman3) beside
kairan's (web_bench.py --api), on the same roster: a private instance in
a temporary directory (its own var_dir, REST on 127.0.0.1:PORT, the null
MTA), a list of MEMBERS members, GET roster/member?count=50 (first page
and a page in the middle; median and p99 ms) and list creation by POST
/3.1/lists (lists/s).  Not run by CI; run as root (mailman --run-as-root).

Mailman subscribes about 30 members a second through its own API, so
the first 200 are made that way and the rest are copies of their rows in
its SQLite database (address, member, two preferences rows each), which
is what a subscription writes.

    python3 tests/bench/mailman3_rest.py [MEMBERS [PORT]]
"""
import base64
import http.client
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from functools import partial

print = partial(print, flush=True)  # noqa: A001

MEMBERS = int(sys.argv[1]) if len(sys.argv) > 1 else 100000
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 18001
if not shutil.which("mailman"):
    print("mailman3_rest: Debian's mailman3 is not installed (apt-get install mailman3)")
    sys.exit(77)

tmp = tempfile.mkdtemp(prefix="mm3-bench-")
cfg = os.path.join(tmp, "mailman.cfg")
open(cfg, "w").write(f"""[mailman]
layout: bench
site_owner: bench@example.org
[paths.bench]
var_dir: {tmp}/var
bin_dir: /usr/lib/mailman3/bin
[database]
class: mailman.database.sqlite.SQLiteDatabase
url: sqlite:///$DATA_DIR/mailman.db
[webservice]
hostname: 127.0.0.1
port: {PORT}
admin_user: restadmin
admin_pass: benchpass
[mta]
incoming: mailman.mta.null.NullMTA
[logging.root]
level: warning
""")
open(os.path.join(tmp, "fill.py"), "w").write('''
from zope.component import getUtility
from mailman.interfaces.usermanager import IUserManager
from mailman.interfaces.member import MemberRole
from mailman.config import config
from mailman.utilities.datetime import now

def fill(mlist):
    um = getUtility(IUserManager)
    for i in range(200):
        a = um.create_address(f"user{i:06d}@example{i % 50}.test", f"User {i}")
        a.verified_on = now()
        mlist.subscribe(a, MemberRole.member)
    config.db.commit()
''')
MM = ["mailman", "--run-as-root", "-C", cfg]


def mm(*args, env=None):
    # output to a file, not a pipe: `mailman start` leaves its daemons
    # holding whatever it was given, and a pipe would never reach EOF
    with open(os.path.join(tmp, "mailman-cmd.out"), "w+b") as out:
        r = subprocess.run(MM + list(args), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                           timeout=600, cwd=tmp, env=dict(os.environ, **(env or {})))
        out.seek(0)
        r.stdout = r.stderr = out.read()
    if r.returncode != 0:
        raise RuntimeError(f"mailman {' '.join(args)}: {r.stderr.decode(errors='replace')[-500:]}")
    return r.stdout.decode()


started = False
try:
    mm("create", "big@example.test")
    mm("shell", "-l", "big@example.test", "-r", "fill.fill", env={"PYTHONPATH": tmp})
    db = sqlite3.connect(os.path.join(tmp, "var", "data", "mailman.db"))
    pid = db.execute("SELECT max(id) FROM preferences").fetchone()[0]
    aid = db.execute("SELECT max(id) FROM address").fetchone()[0]
    mid = db.execute("SELECT max(id) FROM member").fetchone()[0]
    with db:
        for i in range(200, MEMBERS):
            pid += 2
            aid += 1
            mid += 1
            db.execute("INSERT INTO preferences(id) VALUES(?), (?)", (pid - 1, pid))
            db.execute("INSERT INTO address(id, email, display_name, verified_on, registered_on, preferences_id)"
                       " SELECT ?, ?, ?, verified_on, registered_on, ? FROM address WHERE id = 1",
                       (aid, f"user{i:06d}@example{i % 50}.test", f"User {i}", pid - 1))
            db.execute("INSERT INTO member(id, _member_id, role, list_id, moderation_action, address_id, preferences_id,"
                       " user_id, bounce_score, last_bounce_received, last_warning_sent, total_warnings_sent)"
                       " SELECT ?, ?, role, list_id, moderation_action, ?, ?, user_id, bounce_score, last_bounce_received,"
                       " last_warning_sent, total_warnings_sent FROM member WHERE id = 1", (mid, uuid.uuid4().hex, aid, pid))
    total = db.execute("SELECT count(*) FROM member WHERE list_id = 'big.example.test'").fetchone()[0]
    db.close()
    mm("start")
    started = True
    auth = {"Authorization": "Basic " + base64.b64encode(b"restadmin:benchpass").decode()}
    for _ in range(120):
        try:
            c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=300)
            c.request("GET", "/3.1/system/versions", headers=auth)
            if c.getresponse().status == 200:
                break
        except OSError:
            pass
        time.sleep(1)
    c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=300)

    def timed(path, n):
        lat = []
        for _ in range(n):
            t0 = time.perf_counter()
            c.request("GET", path, headers=auth)
            r = c.getresponse()
            body = r.read()
            lat.append(time.perf_counter() - t0)
            assert r.status == 200, r.status
        lat.sort()
        return json.loads(body), statistics.median(lat) * 1000, lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000

    print(f"Mailman 3.3 REST (Debian mailman3, SQLite, one keep-alive connection), {total} members")
    mid_page = MEMBERS // 100 + 1
    for label, path in (("GET roster/member?count=50&page=1", "/3.1/lists/big.example.test/roster/member?count=50&page=1"),
                        (f"GET roster/member?count=50&page={mid_page}",
                         f"/3.1/lists/big.example.test/roster/member?count=50&page={mid_page}")):
        body, med, p99 = timed(path, 2)
        body, med, p99 = timed(path, 20)
        assert body["total_size"] == total and len(body["entries"]) == 50
        print(f"  {label:48s} median {med:7.2f} ms   p99 {p99:7.2f} ms")
    n = 20
    t0 = time.perf_counter()
    for i in range(n):
        c.request("POST", "/3.1/lists", body=json.dumps({"fqdn_listname": f"new{i:04d}@example.test"}),
                  headers=dict(auth, **{"Content-Type": "application/json"}))
        r = c.getresponse()
        r.read()
        assert r.status == 201, r.status
    print(f"  {'POST /3.1/lists':48s} {n / (time.perf_counter() - t0):7.1f} lists/s ({n} lists, one by one)")
finally:
    if started:
        try:
            mm("stop")
        except Exception as e:  # noqa: BLE001
            print("mailman stop:", e)
    time.sleep(2)
    shutil.rmtree(tmp, ignore_errors=True)
