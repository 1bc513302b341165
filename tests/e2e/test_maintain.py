"""test_maintain.py - periodic work (issue #17): `kairan maintain` with the
test-only clock offset KAIRAN_TEST_NOW_OFFSET instead of waiting days.

Held posts older than max_days_to_hold are discarded and their senders
told (not an automatic sender); the moderators' reminder comes once a day,
not twice; archive_expire removes old posts from the spool, the index,
search, POP3, IMAP and the web, and the next post takes the next number
(UIDVALIDITY kept); --dry-run changes nothing; concurrent runs do a task
once; kairan relay runs the tasks by itself (every maintain_interval),
its notices reaching a real SMTP sink; the cron line of the README works
as written; `kairan digest` is still the digest task on demand."""
import concurrent.futures
import imaplib
import os
import poplib
import re
import shlex
import shutil
import sqlite3
import subprocess
import tempfile
import time
import urllib.parse

from kt import *

DAY = 86400
t = Tap()


def at(days):
    """the environment of a run `days` days from now"""
    return {"KAIRAN_TEST_NOW_OFFSET": str(int(days * DAY))}


def held_ids(inst, name):
    db = sqlite3.connect(inst.path("kairan.db"))
    ids = [r[0] for r in db.execute("SELECT id FROM held WHERE list = ? ORDER BY created, id", (name,))]
    db.close()
    return ids


def db_rows(inst, sql, *args):
    db = sqlite3.connect(inst.path("kairan.db"))
    rows = db.execute(sql, args).fetchall()
    db.close()
    return rows


def maintain(inst, *args, days=0):
    return inst.run("maintain", *args, env=at(days))


# ---- held posts: expiry after max_days_to_hold ----------------------------
inst = Instance()
inst.newlist("team", owner="owner@example.org", password="ownerpass")
inst.subscribe("team", "member@example.org", "robot@example.org")
inst.config("team", "post_policy", "moderated")
set_global(inst, web_url="https://lists.example.org/kairan/")

r = inst.deliver("team", make_msg(subject="please approve me"), sender="member@example.org")
t.eq(r.returncode, 0, "a post to a moderated list is accepted (held)")
r = inst.deliver("team", make_msg(subject="nightly report", frm="Robot <robot@example.org>",
                                  extra="Auto-Submitted: auto-generated\n"), sender="robot@example.org")
t.eq(r.returncode, 0, "an automatic post is held too")
ids = held_ids(inst, "team")
t.eq(len(ids), 2, "two posts held")
inst.clear_queue()

# dry run 15 days later: says what it would do, changes nothing
before = db_rows(inst, "SELECT task, list, last_run FROM maintain_runs ORDER BY task, list")
r = maintain(inst, "--dry-run", days=15)
out = r.stdout.decode()
t.eq(r.returncode, 0, "kairan maintain --dry-run exits 0")
t.ok(out.count("would discard held post") == 2, "the dry run names both held posts", out)
t.ok("telling the sender" in out, "the dry run says the sender would be told", out)
t.ok("would remind" not in out, "posts about to be discarded are not in a reminder", out)
t.eq(held_ids(inst, "team"), ids, "--dry-run discards nothing")
t.ok(all(os.path.exists(inst.path("spool", "team", "held", i)) for i in ids), "--dry-run keeps the held files")
t.eq(len(inst.queue()), 0, "--dry-run sends nothing")
t.eq(db_rows(inst, "SELECT task, list, last_run FROM maintain_runs ORDER BY task, list"), before,
     "--dry-run records no run")

# 13 days later nothing is due yet
r = maintain(inst, "--list", "team", "--task", "held_expire", days=13)
t.eq((r.returncode, held_ids(inst, "team")), (0, ids), "13 days later (max_days_to_hold 14) the posts still wait")

r = maintain(inst, "--task", "held_expire", days=15)
out = r.stdout.decode()
t.eq(r.returncode, 0, "kairan maintain 15 days later exits 0")
t.eq(held_ids(inst, "team"), [], "held posts older than max_days_to_hold are discarded")
t.ok(not any(os.path.exists(inst.path("spool", "team", "held", i)) for i in ids), "their files are removed")
t.ok(out.count("discarded held post") == 2, "the report names each discarded post", out)
told = notices(inst, "held_expired")
t.eq([q["rcpts"] for q in told], [["member@example.org"]], "the sender is told; the automatic sender is not")
if told:
    body = body_text(told[0]["msg"])
    t.ok("please approve me" in body and "14 days" in body, "the notice names the post and the 14 days", body)
    t.ok("team" in str(told[0]["msg"]["Subject"]), "the notice's Subject names the list")
t.ok("after 15 days" in inst.log() or "discarded after 15 days" in inst.log(), "the discard is logged")

# max_days_to_hold = 0 keeps them
inst.config("team", "max_days_to_hold", "0")
inst.deliver("team", make_msg(subject="kept forever"), sender="member@example.org")
maintain(inst, "--task", "held_expire", days=400)
t.eq(len(held_ids(inst, "team")), 1, "max_days_to_hold = 0 keeps held posts")
inst.config("team", "max_days_to_hold", "14")

# ---- the moderators' reminder: once a day -----------------------------------
inst.newlist("mods", owner="boss@example.org", password="bosspass")
inst.config("mods", "post_policy", "moderated")
inst.config("mods", "moderators", "mod1@example.org, mod2@example.org")
inst.subscribe("mods", "member@example.org")
inst.deliver("mods", make_msg(subject="waiting for you", to=f"mods@{DOMAIN}"), sender="member@example.org")
mid = held_ids(inst, "mods")
inst.clear_queue()
r = maintain(inst, "--list", "mods", "--task", "held_reminder")
rem = notices(inst, "held_reminder")
t.eq(sorted(x for q in rem for x in q["rcpts"]), ["mod1@example.org", "mod2@example.org"],
     "each moderator gets one reminder")
if rem and mid:
    body = body_text(rem[0]["msg"])
    t.ok(mid[0] in body and "member@example.org" in body and "waiting for you" in body,
         "the reminder lists the held post: id, sender, subject", body)
    t.ok("admin approve" in body and f"mods-ctl@{DOMAIN}" in body, "the reminder says how to approve by mail", body)
    t.ok("https://lists.example.org/kairan/admin/mods/held" in body, "the reminder gives the web page", body)
    t.ok("1 held post" in str(rem[0]["msg"]["Subject"]), "its Subject counts the posts", str(rem[0]["msg"]["Subject"]))
inst.clear_queue()
maintain(inst, "--list", "mods")
maintain(inst, "--list", "mods", days=0.5)
t.eq(len(notices(inst, "held_reminder")), 0, "no second reminder the same day")
maintain(inst, "--list", "mods", days=1)
rem = notices(inst, "held_reminder")
t.eq(len(rem), 2, "the next day's run reminds again (one mail per moderator)")
if rem:
    t.ok("1d 00h" in body_text(rem[0]["msg"]), "with the post's age", body_text(rem[0]["msg"]))
inst.clear_queue()
maintain(inst, "--list", "mods", days=1.2)
t.eq(len(notices(inst, "held_reminder")), 0, "and not twice that day")
inst.config("mods", "moderator_reminder", "no")
maintain(inst, "--list", "mods", days=3)
t.eq(len(notices(inst, "held_reminder")), 0, "moderator_reminder = no: no reminder")
r = inst.run("config", "mods", "moderator_reminder", "sometimes")
t.ok(r.returncode == 64, "a bad moderator_reminder is refused (64)")
r = inst.run("config", "mods", "archive_expire", "soon")
t.ok(r.returncode == 64, "a bad archive_expire is refused (64)")

# ---- several runs at once do a task once ----------------------------------
inst.newlist("busy", owner="owner@example.org")
inst.config("busy", "post_policy", "moderated")
for i in range(6):
    inst.deliver("busy", make_msg(subject=f"busy {i}", to=f"busy@{DOMAIN}",
                                  frm=f"Sender {i} <s{i}@example.org>"), sender=f"s{i}@example.org")
inst.clear_queue()
# another process holds the task's lease (it is running it): the task is skipped
db = sqlite3.connect(inst.path("kairan.db"))
db.execute("UPDATE maintain_runs SET lease_until = ?, owner = 'elsewhere:1:x' WHERE task = 'held_expire' AND list = ''",
           (int(time.time()) + 30 * DAY,))
db.commit()
db.close()
r = maintain(inst, "--list", "busy", "--task", "held_expire", days=20)
t.ok(r.returncode == 0 and "running in another process" in r.stdout.decode(),
     "a task another process is running is skipped", r.stdout)
t.eq(len(held_ids(inst, "busy")), 6, "and nothing of it is done")
# ... until that lease ends (the process died): an hour later the task runs again
db = sqlite3.connect(inst.path("kairan.db"))
db.execute("UPDATE maintain_runs SET lease_until = ? WHERE task = 'held_expire' AND list = ''",
           (int(time.time()) + 20 * DAY - 1,))
db.commit()
db.close()
with concurrent.futures.ThreadPoolExecutor(4) as ex:
    rs = list(ex.map(lambda _: maintain(inst, "--list", "busy", "--task", "held_expire", days=20), range(4)))
t.ok(all(x.returncode == 0 for x in rs), "four concurrent runs exit 0", [x.stderr for x in rs])
told = sorted(x for q in notices(inst, "held_expired") for x in q["rcpts"])
t.eq(told, [f"s{i}@example.org" for i in range(6)], "each sender told exactly once by four concurrent runs")
t.eq(held_ids(inst, "busy"), [], "every old held post discarded")

# ---- archive expiry ------------------------------------------------------
inst.newlist("arch", owner="owner@example.org", password="ownerpass")
inst.subscribe("arch", "ann@example.org")
inst.config("arch", "archive_access", "public")
inst.check("passwd", "arch", "ann@example.org", stdin=b"ann pass\n")
for i in (1, 2, 3):
    r = inst.deliver("arch", make_msg(subject=f"old post {i}", to=f"arch@{DOMAIN}", body=f"zebrafish{i} text\n"),
                     sender="ann@example.org")
    assert r.returncode == 0, r.stderr
r = inst.run("deliver", "arch", "-f", "ann@example.org", env=at(20),
             stdin=make_msg(subject="newer post", to=f"arch@{DOMAIN}", body="zebrafish4 text\n"))
t.eq(r.returncode, 0, "a fourth post archived 20 days later")
t.eq(inst.archive_numbers("arch"), [1, 2, 3, 4], "four posts in the spool")


def imap_state(user="ann@example.org/arch", password="ann pass"):
    with Imapd(inst, imap_login_delay="0.05") as d:
        c = imaplib.IMAP4("127.0.0.1", d.port)
        c.login(user, password)
        typ, _ = c.select("INBOX", readonly=True)
        uidvalidity = c.response("UIDVALIDITY")[1][0]
        typ, data = c.uid("SEARCH", "ALL")
        uids = [int(x) for x in data[0].split()]
        typ, data = c.uid("SEARCH", "TEXT", "zebrafish1")
        found = [int(x) for x in data[0].split()]
        status = c.status("INBOX", "(UIDNEXT MESSAGES)")[1][0].decode()
        c.logout()
        return uidvalidity, uids, found, status


def pop3_list():
    with Pop3d(inst, pop3_login_delay="0.05") as pd:
        p = poplib.POP3("127.0.0.1", pd.port)
        p.user("ann@example.org/arch")
        p.pass_("ann pass")
        n = p.stat()[0]
        subjects = []
        for k in range(1, n + 1):
            raw = b"\n".join(p.retr(k)[1])
            m = re.search(rb"^Subject: (.*)$", raw, re.M)
            subjects.append(m.group(1).decode() if m else "")
        p.quit()
        return subjects


web = WebClient(inst, cgi=True)


def web_search(word):
    return web.get("/list/arch/archive/search?" + urllib.parse.urlencode({"q": word}))


uv_before, uids, found, _ = imap_state()
t.eq((uids, found), ([1, 2, 3, 4], [1]), "IMAP sees four posts, SEARCH finds post 1 (before expiry)")
t.ok("old post 1" in web_search("zebrafish1").text, "web search finds post 1 (before expiry)")
inst.config("arch", "archive_expire", "30d")
r = maintain(inst, "--list", "arch", "--dry-run", days=40)
t.ok("would remove 3 archived post(s)" in r.stdout.decode(), "--dry-run says 3 posts would expire", r.stdout)
t.eq(inst.archive_numbers("arch"), [1, 2, 3, 4], "--dry-run removes nothing")
r = maintain(inst, "--list", "arch", days=40)
t.eq(r.returncode, 0, "kairan maintain 40 days later exits 0")
t.ok("removed 3 archived post(s)" in r.stdout.decode(), "the report counts 3 expired posts", r.stdout)
t.eq(inst.archive_numbers("arch"), [4], "posts older than archive_expire are gone from the spool")
t.eq([n for (n,) in db_rows(inst, "SELECT num FROM archive WHERE list = 'arch' ORDER BY num")], [4],
     "and from the archive index")
t.eq(db_rows(inst, "SELECT count(*) FROM archive_text WHERE list = 'arch' AND num < 4")[0][0], 0,
     "and from the search index")
uv_after, uids, found, status = imap_state()
t.eq((uids, found), ([4], []), "IMAP sees only post 4; SEARCH no longer finds post 1")
t.eq(uv_after, uv_before, "UIDVALIDITY unchanged")
t.ok("UIDNEXT 5" in status and "MESSAGES 1" in status, "IMAP STATUS: 1 message, UIDNEXT 5", status)
subs = pop3_list()
t.ok(len(subs) == 1 and "newer post" in subs[0], "POP3 lists only post 4", subs)
r = web_search("zebrafish1")
t.ok(r.status == 200 and "old post 1" not in r.text, "web search no longer finds post 1")
r = web.get("/list/arch/archive")
t.ok(r.status == 200 and "newer post" in r.text and "old post" not in r.text, "the web archive lists only post 4")
t.eq(web.get("/list/arch/archive/2").status, 404, "an expired post's page is 404")
t.eq(web.get("/list/arch/archive/4").status, 200, "the kept post's page is there")
inst.clear_queue()
r = inst.deliver("arch", ctl_mail("get 2\nmget 1-4\n", frm="ann@example.org", to=f"arch-ctl@{DOMAIN}"),
                 sender="ann@example.org", mode="--ctl")
rep = notices(inst, "ctl_reply", to="ann@example.org")
txt = body_text(rep[0]["msg"]) if rep else ""
t.ok("There is no post 2" in txt, "`get 2` answers that there is no post 2", txt)
t.ok("1 post(s) of 1-4" in txt, "`mget 1-4` sends the one post left of 1-4", txt)
r = inst.deliver("arch", make_msg(subject="after expiry", to=f"arch@{DOMAIN}"), sender="ann@example.org")
t.eq(inst.archive_numbers("arch"), [4, 5], "a new post gets the next number (5), expired numbers are not reused")
_, uids, _, _ = imap_state()
t.eq(uids, [4, 5], "IMAP sees 4 and 5")
r = inst.run("digest", "arch", "--force")
t.eq(r.returncode, 0, "kairan digest --force over a gap in the numbers exits 0")

# a session open while posts expire: the posts it listed are gone, it says so
with Imapd(inst, imap_login_delay="0.05") as d, Pop3d(inst, pop3_login_delay="0.05") as pd:
    c = imaplib.IMAP4("127.0.0.1", d.port)
    c.login("ann@example.org/arch", "ann pass")
    c.select("INBOX", readonly=True)
    p = poplib.POP3("127.0.0.1", pd.port)
    p.user("ann@example.org/arch")
    p.pass_("ann pass")
    npop = p.stat()[0]
    r = maintain(inst, "--list", "arch", "--task", "archive_expire", "--now", days=60)
    t.eq(inst.archive_numbers("arch"), [], "60 days later posts 4 and 5 expire too")
    try:
        typ, data = c.uid("FETCH", "4", "(BODY.PEEK[])")
        fetched = b"".join(x[1] if isinstance(x, tuple) else x for x in data if x)
    except imaplib.IMAP4.error as e:
        typ, fetched = "NO", str(e).encode()
    t.ok(typ != "OK" or b"newer post" not in fetched, "IMAP: an open session cannot fetch an expired post",
         (typ, fetched[:200]))
    t.eq(c.noop()[0], "OK", "and the IMAP session goes on")
    c.logout()
    try:
        p.retr(1)
        retr = "+OK"
    except poplib.error_proto as e:
        retr = e.args[0].decode(errors="replace")
    t.ok(npop == 2 and retr.startswith("-ERR"), "POP3: RETR of a post expired during the session is -ERR", retr)
    t.ok(p.noop().startswith(b"+OK"), "and the POP3 session goes on")
    p.quit()

# ---- expired rows -------------------------------------------------------------
db = sqlite3.connect(inst.path("kairan.db"))
now = int(time.time())
db.execute("INSERT INTO sessions(id, list, address, csrf, expires) VALUES('old', 'arch', 'a', 'c', ?)", (now - 10,))
db.execute("INSERT INTO sessions(id, list, address, csrf, expires) VALUES('live', 'arch', 'a', 'c', ?)", (now + 3600,))
db.execute("INSERT INTO rate_limits(kind, list, key, window_start, count) VALUES('ctl_reply', 'arch', 'x', ?, 3)",
           (now - 7200,))
db.commit()
db.close()
r = maintain(inst, "--task", "expired_rows", "--dry-run")
t.ok("would drop 1 expired web sessions" in r.stdout.decode(), "dry run counts the expired session", r.stdout)
r = maintain(inst, "--task", "expired_rows")
t.eq([x for (x,) in db_rows(inst, "SELECT id FROM sessions ORDER BY id")], ["live"],
     "expired web sessions are dropped, live ones kept")
t.eq(db_rows(inst, "SELECT count(*) FROM rate_limits WHERE key = 'x'")[0][0], 0, "old rate-limit rows are dropped")
r = maintain(inst, "--task", "nosuch")
t.eq(r.returncode, 64, "an unknown task is a usage error (64)")
r = maintain(inst, "--list", "nosuch")
t.eq(r.returncode, 67, "an unknown list is refused (67)")

# ---- the cron line of the README, as written ---------------------------------
readme = open(os.path.join(SRCDIR, "README.md"), encoding="utf-8").read()
m = re.search(r"^(\*/\d+ \* \* \* \*) (\S+) (/usr/local/bin/kairan .*maintain.*)$", readme, re.M)
t.ok(m, "the README has a cron line for kairan maintain")
if m:
    inst.deliver("team", make_msg(subject="cron will drop me"), sender="member@example.org")
    inst.clear_queue()
    cmd = m.group(3).replace("/usr/local/bin/kairan", shlex.quote(KAIRAN)).replace("/var/lib/kairan", shlex.quote(inst.home))
    e = dict(os.environ, **at(30))
    e.pop("KAIRAN_HOME", None)
    r = subprocess.run(["/bin/sh", "-c", cmd], env=e, capture_output=True, timeout=60)
    t.eq(r.returncode, 0, f"the cron line runs: {m.group(3)}")
    t.ok(not [i for i in held_ids(inst, "team")
              if "cron will drop me" in open(inst.path("spool", "team", "held", i), errors="replace").read()],
         "the cron line's run discards the old held post")
    t.ok(any("cron will drop me" in body_text(q["msg"]) for q in notices(inst, "held_expired")),
         "and tells its sender")
for unit in ("kairan-maintain.service", "kairan-maintain.timer"):
    p = os.path.join(SRCDIR, "etc", unit)
    t.ok(os.path.exists(p) and "maintain" in open(p).read(), f"etc/{unit} is shipped")

analyze = shutil.which("systemd-analyze")
if analyze:
    units = tempfile.mkdtemp(prefix="kairan-units-")
    for unit in ("kairan-maintain.service", "kairan-maintain.timer"):
        text = open(os.path.join(SRCDIR, "etc", unit)).read().replace("/usr/local/bin/kairan", KAIRAN)
        open(os.path.join(units, unit), "w").write(text)
    r = subprocess.run([analyze, "verify", *(os.path.join(units, u) for u in ("kairan-maintain.timer",
                        "kairan-maintain.service"))], capture_output=True, timeout=60, cwd=units)
    t.ok(r.returncode == 0 and b"maintain" not in r.stderr, "systemd-analyze verify accepts the timer and service",
         r.stderr)
    shutil.rmtree(units, ignore_errors=True)
else:
    t.skip("systemd-analyze verify accepts the timer and service", "no systemd-analyze")

# the clock offset is read in one place (src/lib/util.c's now_seconds)
readers = []
for root, _, files in os.walk(os.path.join(SRCDIR, "src")):
    for f in files:
        if f.endswith((".c", ".h")) and "KAIRAN_TEST_NOW_OFFSET" in open(os.path.join(root, f), errors="replace").read():
            readers.append(os.path.relpath(os.path.join(root, f), SRCDIR))
t.eq(sorted(readers), ["src/lib/util.c", "src/lib/util.h"], "KAIRAN_TEST_NOW_OFFSET is read only in util.c")

# ---- kairan relay runs the tasks by itself --------------------------------------
ri = Instance()
ri.newlist("relayed", owner="owner@example.org")
ri.config("relayed", "post_policy", "moderated")
ri.deliver("relayed", make_msg(subject="held before the relay", to=f"relayed@{DOMAIN}"), sender="member@example.org")
t.eq(len(held_ids(ri, "relayed")), 1, "a post held before the relay starts")
ri.clear_queue()
sink = Sink()
relay = None
try:
    relay = Relay(ri, conf={"routes": f"example.org=[127.0.0.1]:{sink.port}", "maintain_interval": "1",
                            "retry_min": "1"}, env=at(15))
    start = time.time()
    while held_ids(ri, "relayed") and time.time() - start < 20:
        time.sleep(0.2)
    t.ok(not held_ids(ri, "relayed"), "the relay discards the old held post by itself (%.1f s)" % (time.time() - start))
    t.ok(sink.wait_recipients(1, timeout=20) and "<member@example.org>" in sink.recipients(),
         "the sender's notice goes out through the relay to the SMTP peer", sink.recipients())
    got = [m for _, _, m in sink.transactions()]
    t.ok(any(b"held_expired" in m for m in got), "it is the held_expired notice")
    # a post held now (clock not moved) is 15 days old for the relay: gone at its next run
    ri.deliver("relayed", make_msg(subject="held while the relay runs", to=f"relayed@{DOMAIN}"),
               sender="member@example.org")
    start = time.time()
    while held_ids(ri, "relayed") and time.time() - start < 15:
        time.sleep(0.2)
    t.ok(not held_ids(ri, "relayed"), "the relay's next run (maintain_interval 1 s) discards a new old post too "
         "(%.1f s)" % (time.time() - start))
    t.ok(sink.wait_recipients(2, timeout=20), "its notice reaches the peer as well")
    # the relay recorded its runs: a cron run at the same moment finds the daily task done
    rows = dict(((a, b), c) for a, b, c in db_rows(ri, "SELECT task, list, last_run FROM maintain_runs"))
    t.ok(rows.get(("held_reminder", "relayed"), 0) > time.time() + 14 * DAY, "the relay recorded the tasks' last runs")
finally:
    if relay:
        relay.stop()
    sink.cleanup()
t.done()
