"""test_concurrency_services.py - 50 concurrent `kairan deliver` runs and
10 posts by SMTP through `kairan relay` (which runs deliver itself), while
the relay fans every post out to smtp-sink and POP3 clients (poplib) read,
retrieve and delete from the archive through `kairan pop3d`, all at the same
time.  Every deliver exits 0, every SMTP post gets 250, the numbers are
1..60 unique and contiguous, no POP3 session fails, every member gets every
post, and 'database is locked' appears nowhere (stderr, daemon output,
kairan.log).  KAIRAN_LONG_TESTS=1: 200 deliver runs, 16 SMTP posts, 20
POP3 readers, 1,000 members."""
import collections
import poplib
import re
import smtplib
import subprocess
import threading
import time

from kt import *

t = Tap()
if not which("smtp-sink"):
    t.skip_all("smtp-sink (postfix) not installed")

LONG = os.environ.get("KAIRAN_LONG_TESTS") == "1"
DELIVERS, SMTP_POSTS, MEMBERS, POP_USERS = (200, 16, 1000, 20) if LONG else (50, 10, 200, 6)
TOTAL = DELIVERS + SMTP_POSTS
inst = Instance()
inst.newlist("team")
inst.config("team", "post_policy", "anyone")
pop_users = [f"reader{i}@example.test" for i in range(POP_USERS)]
inst.subscribe("team", *pop_users)
for u in pop_users:
    inst.check("passwd", "team", u, stdin=f"pw-{u}\n".encode())
members = [f"m{i:04d}@example.test" for i in range(MEMBERS)]
bulk_members(inst, "team", members)
everyone = set(members) | set(pop_users)
# three posts before the storm, so the POP3 readers have something to read
for i in range(3):
    r = inst.deliver("team", make_msg(to=f"team@{DOMAIN}", subject=f"warm-up {i}"), sender="poster@example.org")
    assert r.returncode == 0, r.stderr
TOTAL += 3

sink = Sink()
relay = pop = None
pop_errors, pop_sessions, smtp_results = [], [], []
stop_readers = threading.Event()


def reader(user):
    """POP3 sessions in a loop: login, STAT, LIST, UIDL, RETR/TOP, a DELE now
    and then (a database write at QUIT), QUIT."""
    k = 0
    while not stop_readers.is_set() or k < 2:
        k += 1
        try:
            p = poplib.POP3("127.0.0.1", pop.port, timeout=30)
            p.user(f"{user}/team")
            p.pass_(f"pw-{user}")
            count, _ = p.stat()
            listing = p.list()[1]
            uidls = p.uidl()[1]
            if len(listing) != count or len(uidls) != count:
                raise RuntimeError(f"STAT {count}, LIST {len(listing)}, UIDL {len(uidls)}")
            if count:
                lines = p.retr(count)[1]
                if not any(l.startswith(b"X-Mail-Count:") for l in lines):
                    raise RuntimeError("RETR without X-Mail-Count")
                p.top(1, 0)
                if k % 3 == 0:
                    p.dele(1)
            p.quit()
            pop_sessions.append(user)
        except Exception as e:      # noqa: BLE001 - every failure counts
            pop_errors.append(f"{user}: {e!r}")


def smtp_post(i):
    try:
        with smtplib.SMTP("127.0.0.1", relay.port, timeout=120) as s:
            s.sendmail("poster@example.org", [f"team@{DOMAIN}"],
                       make_msg(to=f"team@{DOMAIN}", subject=f"smtp {i}", msgid=f"<smtp{i}@example.org>"))
        smtp_results.append((i, "250"))
    except Exception as e:          # noqa: BLE001
        smtp_results.append((i, repr(e)))


start = time.time()
try:
    relay = Relay(inst, conf={"routes": f"example.test=[127.0.0.1]:{sink.port}",
                              "max_rcpt_per_txn": "50", "retry_min": "1", "retry_max": "2"})
    pop = Pop3d(inst)
    readers = [threading.Thread(target=reader, args=(u,)) for u in pop_users]
    for th in readers:
        th.start()
    procs = []
    for i in range(DELIVERS):
        p = subprocess.Popen([KAIRAN, "--home", inst.home, "deliver", "team", "-f", "poster@example.org"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        procs.append(p)
    senders = [threading.Thread(target=smtp_post, args=(i,)) for i in range(SMTP_POSTS)]
    for th in senders:
        th.start()
    for i, p in enumerate(procs):
        p.stdin.write(make_msg(to=f"team@{DOMAIN}", subject=f"deliver {i}", msgid=f"<d{i}@example.org>"))
        p.stdin.close()
    codes, errs = [], b""
    for p in procs:
        codes.append(p.wait(timeout=300))
        errs += p.stderr.read()
        p.stdout.close()
        p.stderr.close()
    for th in senders:
        th.join()
    delivered = wait_for(lambda: "Mail queue is empty" in inst.check("queue"), 60, 0.3)
    stop_readers.set()
    for th in readers:
        th.join()
    t.diag(f"{time.time() - start:.1f} s, {len(pop_sessions)} POP3 sessions")

    t.eq(codes, [0] * DELIVERS, f"all {DELIVERS} concurrent deliver runs exit 0")
    t.eq(sorted(smtp_results), [(i, "250") for i in range(SMTP_POSTS)], f"all {SMTP_POSTS} SMTP posts accepted (250)")
    t.ok(not pop_errors, f"no POP3 session failed ({len(pop_sessions)} sessions)", "\n".join(pop_errors[:10]))
    t.ok(len(pop_sessions) >= 2 * POP_USERS, "POP3 clients were reading during the storm")
    t.ok(pop.alive() and relay.proc.poll() is None, "pop3d and relay still running")
    nums = inst.archive_numbers("team")
    t.eq(nums, list(range(1, TOTAL + 1)), f"numbers 1..{TOTAL}, unique and contiguous")
    t.eq([int(inst.archive("team", n)["X-Mail-Count"]) for n in nums], nums, "X-Mail-Count matches every number")
    subjects = sorted(re.sub(r"^\[team:\d+\] ", "", str(inst.archive("team", n)["Subject"])) for n in nums)
    want = sorted([f"deliver {i}" for i in range(DELIVERS)] + [f"smtp {i}" for i in range(SMTP_POSTS)] +
                  [f"warm-up {i}" for i in range(3)])
    t.eq(subjects, want, "every post archived exactly once")
    t.ok(delivered, "queue drained")
    got = collections.Counter()
    for _, rcpts, data in sink.transactions():
        m = re.search(rb"^X-Mail-Count: *(\d+)", data, re.M)
        for r in rcpts:
            got[(int(m.group(1)) if m else -1, r.strip("<>"))] += 1
    expected = {(n, a) for n in range(1, TOTAL + 1) for a in everyone}
    missing = expected - set(got)
    t.ok(not missing, f"every member got every post ({len(expected) - len(missing)} of {len(expected)})",
         sorted(missing)[:5])
    outputs = errs.decode(errors="replace") + pop.output() + open(inst.path("relay.stderr")).read() + inst.log()
    t.ok("locked" not in outputs and "busy" not in outputs.lower(),
         "no 'database is locked' or busy error anywhere",
         "\n".join(l for l in outputs.splitlines() if "locked" in l or "busy" in l.lower())[:3000])
finally:
    stop_readers.set()
    if pop:
        pop.stop()
    if relay:
        relay.stop()
    sink.cleanup()
t.done()
