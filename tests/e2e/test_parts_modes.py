#!/usr/bin/env python3
"""test_parts_modes.py - security issue #12, findings 5 and 11.

Many-part posts: a post with more MIME parts than the list's max_parts
(default 1000) is refused with a reply, quickly and in bounded memory
(the parts are counted before GMime builds them); a post under the limit
is distributed; the web view of an archived post with 200,000 parts
(archived with max_parts = 0, as before the limit) answers quickly and
says parts were left out; a slow web request does not stall the others.

File modes: kairan init makes kairan.conf, kairan.db (and its -wal and
-shm) 0600 and the directories 0700 whatever the umask; an older 0644
database is made private when opened; init warns on an open HOME."""
import http.client
import os
import sqlite3
import stat
import subprocess
import tempfile
import threading
import time
from kt import (Tap, Instance, KAIRAN, WebServer, WebClient, make_msg, notices, body_text, set_global)

t = Tap()
DOMAIN = "lists.example.org"


def many_parts(n, subject="many parts", boundary_param='boundary="b"', boundary="b", body=""):
    """A multipart/mixed post of n parts (empty unless body is given)."""
    head = (f"From: Member <member@example.org>\nTo: team@{DOMAIN}\nSubject: {subject}\n"
            f"Message-ID: <{time.time_ns()}.{n}@example.org>\nDate: Mon, 23 Nov 2026 10:00:00 +0000\n"
            f"MIME-Version: 1.0\nContent-Type: multipart/mixed; {boundary_param}\n\npreamble\n")
    part = f"--{boundary}\n\n{body}"
    return (head + part * n + f"--{boundary}--\n").encode()


def timed_deliver(inst, name, msg):
    """kairan deliver under /usr/bin/time: (returncode, seconds, max RSS in MB)."""
    out = tempfile.NamedTemporaryFile(prefix="kt-time-", delete=False)
    out.close()
    r = subprocess.run(["/usr/bin/time", "-f", "%e %M", "-o", out.name, KAIRAN, "--home", inst.home,
                        "deliver", name, "-f", "member@example.org"], input=msg, capture_output=True, timeout=300)
    secs, kb = open(out.name).read().split()[-2:]
    os.unlink(out.name)
    return r.returncode, float(secs), int(kb) / 1024.0


inst = Instance()
inst.newlist("team")
inst.subscribe("team", "member@example.org", "other@example.org")

# ---- under the limit: distributed ----
msg = many_parts(49, subject="fifty parts", body="Some text.\n")
r = inst.deliver("team", msg)
t.ok(r.returncode == 0 and inst.archive_numbers("team") == [1],
     "a post of 50 MIME parts (49 text parts in a multipart) is archived", r.stderr)
a = inst.archive("team", 1)
t.ok(a is not None and len(list(a.iter_parts())) == 49, "the archived post keeps its 49 parts")

# ---- over the limit: refused with a reply, nothing archived ----
inst.clear_queue()
rc, secs, mb = timed_deliver(inst, "team", many_parts(5000, subject="five thousand"))
t.ok(rc == 0, "a post of 5,000 parts: deliver exits 0 (refused with a reply)")
t.ok(inst.archive_numbers("team") == [1], "the 5,000-part post is not archived")
ref = notices(inst, "refused", to="member@example.org")
t.ok(len(ref) == 1 and "MIME parts" in body_text(ref[0]["msg"]) and "1000" in body_text(ref[0]["msg"]),
     "the sender gets one refusal that names the MIME parts and the limit of 1000",
     [body_text(q["msg"]) for q in ref])
t.ok(all(q["msg"].get_content_type() != "multipart/mixed" or len(q["raw"]) < 100000 for q in ref),
     "the refusal does not carry the post's parts back")
t.ok(secs < 5, f"refused in {secs:.2f} s (< 5 s)")

inst.clear_queue()
rc, secs, mb = timed_deliver(inst, "team", many_parts(200000, subject="two hundred thousand"))
t.diag(f"200,000 empty parts: {secs:.2f} s, max RSS {mb:.1f} MB")
t.ok(rc == 0 and inst.archive_numbers("team") == [1], "a post of 200,000 parts is refused, not archived")
t.ok(mb < 100, f"deliver's memory stays bounded for 200,000 parts: {mb:.1f} MB (< 100 MB)")
t.ok(secs < 5, f"and it takes {secs:.2f} s (< 5 s)")
t.ok(len(notices(inst, "refused", to="member@example.org")) == 1, "one refusal for it")

# a boundary split by RFC 2231 (boundary*0, boundary*1) is counted as GMime reads it
inst.clear_queue()
rc, secs, mb = timed_deliver(inst, "team", many_parts(5000, subject="split boundary",
                                                       boundary_param='boundary*0="sp"; boundary*1="lit"',
                                                       boundary="split"))
t.ok(rc == 0 and inst.archive_numbers("team") == [1] and len(notices(inst, "refused")) == 1,
     "a 5,000-part post whose boundary is written as RFC 2231 continuations is refused too")

# the limit is the list's setting
r = inst.run("config", "team", "max_parts", "20")
t.ok(r.returncode == 0, "kairan config team max_parts 20", r.stderr)
inst.clear_queue()
r = inst.deliver("team", many_parts(49, subject="fifty again", body="Text.\n"))
t.ok(r.returncode == 0 and inst.archive_numbers("team") == [1] and len(notices(inst, "refused")) == 1,
     "with max_parts = 20 the 50-part post is refused")
r = inst.run("config", "team", "max_parts", "bogus")
t.ok(r.returncode != 0, "max_parts takes only a number")
inst.run("config", "team", "max_parts", "1000")

# ---- an archived many-part post (max_parts = 0: no limit, as before it existed) ----
inst.newlist("old")
inst.subscribe("old", "member@example.org")
inst.run("config", "old", "max_parts", "0")      # the baseline has no such key: it has no limit
inst.check("config", "old", "archive_access", "public")
big = many_parts(200000, subject="old many parts").replace(f"To: team@{DOMAIN}".encode(), f"To: old@{DOMAIN}".encode())
r = inst.deliver("old", big)
t.ok(r.returncode == 0 and inst.archive_numbers("old") == [1], "with max_parts = 0 a 200,000-part post is archived")
inst.clear_queue()

set_global(inst, db_busy_timeout="8")
with WebServer(inst) as srv:
    c = WebClient(inst, srv)
    t0 = time.monotonic()
    r = c.get("/list/old/archive/1")
    secs = time.monotonic() - t0
    t.ok(r.status == 200 and "old many parts" in r.text, "the web shows the archived 200,000-part post", r.status)
    t.ok(secs < 1, f"and answers in {secs:.2f} s (< 1 s)")
    t.ok("Parts left out" in r.text and "200001" in r.text,
         "the page says parts were left out, and how many the post has (200,001 with its multipart)")
    t0 = time.monotonic()
    r = c.get("/list/old/archive/search?q=many")
    secs = time.monotonic() - t0
    t.ok(r.status == 200 and "old many parts" in r.text and secs < 3,
         f"the archive search indexes it and finds it in {secs:.2f} s (< 3 s)")

    # while a request waits (on the database), another is answered
    mode = stat.S_IMODE(os.stat(inst.path("kairan.db-wal")).st_mode) if os.path.exists(inst.path("kairan.db-wal")) else None
    t.ok(mode == 0o600, f"kairan.db-wal of a running instance is 0600 ({oct(mode) if mode else 'missing'})")
    mode = stat.S_IMODE(os.stat(inst.path("kairan.db-shm")).st_mode) if os.path.exists(inst.path("kairan.db-shm")) else None
    t.ok(mode == 0o600, f"kairan.db-shm of a running instance is 0600 ({oct(mode) if mode else 'missing'})")

    login = WebClient(inst, srv)
    token = login.csrf("/login")
    lock = sqlite3.connect(inst.path("kairan.db"), timeout=10, isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")           # every writer waits for this one
    slow = {}

    def slow_login():
        t1 = time.monotonic()
        try:
            slow["resp"] = login.post("/login", {"list": "team", "address": "owner@example.org",
                                                 "password": "wrong-password", "csrf": token})
        except OSError as e:
            slow["error"] = e
        slow["secs"] = time.monotonic() - t1

    th = threading.Thread(target=slow_login)
    th.start()
    time.sleep(0.7)
    t0 = time.monotonic()
    status = None
    try:
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
        conn.request("GET", "/static/style.css")
        status = conn.getresponse().status
        conn.close()
    except OSError as e:
        status = f"no answer: {e}"
    fast = time.monotonic() - t0
    still_waiting = th.is_alive()
    time.sleep(0.3)
    lock.execute("ROLLBACK")
    lock.close()
    th.join(40)
    t.ok(still_waiting, "the login was still waiting for the database")
    t.ok(status == 200 and fast < 1.5,
         f"meanwhile another client's request is answered in {fast:.2f} s (< 1.5 s)", status)
    t.ok("resp" in slow and slow["resp"].status in (200, 400, 403, 429) and slow["secs"] < 10,
         f"the waiting login is answered once the database is free ({slow.get('secs', 0):.1f} s)",
         slow.get("resp") and slow["resp"].status)


# ---- file modes ----
def init_with_umask(mask, home):
    old = os.umask(mask)
    try:
        return subprocess.run([KAIRAN, "--home", home, "init", "--domain", DOMAIN], capture_output=True, timeout=60)
    finally:
        os.umask(old)


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


parent = tempfile.mkdtemp(prefix="kt-modes-")
for mask in (0o022, 0o000):
    home = os.path.join(parent, f"home{mask:03o}")
    r = init_with_umask(mask, home)
    t.ok(r.returncode == 0, f"kairan init with umask {mask:03o}", r.stderr)
    old = os.umask(mask)
    try:
        subprocess.run([KAIRAN, "--home", home, "newlist", "team", "--owner", "owner@example.org"],
                       capture_output=True, timeout=60)
        subprocess.run([KAIRAN, "--home", home, "aliases"], capture_output=True, timeout=60)
    finally:
        os.umask(old)
    files = ["kairan.conf", "kairan.db", "log/kairan.log", "aliases"]
    bad = {f: oct(mode(os.path.join(home, f))) for f in files
           if not os.path.exists(os.path.join(home, f)) or mode(os.path.join(home, f)) != 0o600}
    t.ok(not bad, f"umask {mask:03o}: kairan.conf, kairan.db, the log and aliases are 0600", bad)
    dirs = [".", "spool", "queue", "log", "tmp", "spool/team", "spool/team/archive", "spool/team/held"]
    bad = {d: oct(mode(os.path.join(home, d))) for d in dirs
           if not os.path.isdir(os.path.join(home, d)) or mode(os.path.join(home, d)) != 0o700}
    t.ok(not bad, f"umask {mask:03o}: HOME and its directories are 0700", bad)

# an instance made by an older kairan: its database is made private on open
home = os.path.join(parent, "home022")
os.chmod(os.path.join(home, "kairan.db"), 0o644)
os.chmod(os.path.join(home, "kairan.conf"), 0o644)
subprocess.run([KAIRAN, "--home", home, "lists"], capture_output=True, timeout=60)
t.ok(mode(os.path.join(home, "kairan.db")) == 0o600 and mode(os.path.join(home, "kairan.conf")) == 0o600,
     "a 0644 kairan.db and kairan.conf are made 0600 when the instance is opened",
     (oct(mode(os.path.join(home, "kairan.db"))), oct(mode(os.path.join(home, "kairan.conf")))))

# init on an existing HOME open to others warns (and still creates private files)
home = os.path.join(parent, "open")
os.mkdir(home)
os.chmod(home, 0o755)
r = init_with_umask(0o022, home)
err = r.stderr.decode(errors="replace")
t.ok(r.returncode == 0 and "0755" in err and "chmod 700" in err, "init on a 0755 HOME warns and says what to do", err)
t.ok(mode(os.path.join(home, "kairan.db")) == 0o600, "the database in it is 0600 all the same")
home = os.path.join(parent, "closed")
os.mkdir(home, 0o700)
r = init_with_umask(0o022, home)
t.ok(r.returncode == 0 and b"warning" not in r.stderr.lower(), "init on a 0700 HOME does not warn", r.stderr)
subprocess.run(["rm", "-rf", parent])
t.done()
