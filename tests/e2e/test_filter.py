"""test_filter.py - the filter hook before a post is accepted (issue 8).

A real filter program ([global] filter_command, a shell script written by
the test) and a real clamd (Debian clamav-daemon) started offline with a
local signature database that this test writes (clamd cannot download
signatures here; a database of our own is all it needs to run).
"""
import base64
import email
import email.policy
import os
import re
import shutil
import stat
import subprocess
import tempfile
import time

from kt import *

EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"

t = Tap()
inst = Instance()
inst.newlist("team")
inst.subscribe("team", "member@example.org", "reader@example.net")
work = tempfile.mkdtemp(prefix="kairan-filter-")

script = os.path.join(work, "filter.sh")
with open(script, "w") as f:
    f.write(f"""#!/bin/sh
# A list filter: refuses the EICAR test string, holds mail marked as spam.
msg=$(cat)
echo "$KAIRAN_LIST $KAIRAN_SENDER $KAIRAN_FROM" > {work}/env
case "$msg" in
  *EICAR-STANDARD-ANTIVIRUS-TEST-FILE*) echo "virus found: EICAR test file"; exit 1 ;;
  *X-Spam-Flag:\\ YES*) echo "looks like spam (score 7.5)"; exit 2 ;;
  *please-sleep*) sleep 30; exit 0 ;;
  *please-crash*) echo "internal error"; exit 3 ;;
esac
exit 0
""")
os.chmod(script, 0o755)


def set_global(**kv):
    conf = open(inst.path("kairan.conf")).read()
    for k, v in kv.items():
        conf = re.sub(rf"^{k}\s*=.*\n", "", conf, flags=re.M)
        if v is not None:
            conf = conf.replace("[global]\n", f"[global]\n{k}={v}\n", 1)
    open(inst.path("kairan.conf"), "w").write(conf)


def notices_to(addr):
    return [q for q in inst.queue() if addr in q["rcpts"] and q["msg"]["X-Kairan-Notice"]]


def notice_text(q):
    return q["msg"].get_body(preferencelist=("plain",)).get_content()


set_global(filter_command=f"{script} --mode=list", filter_timeout="2")

# accept
n0 = len(inst.archive_numbers("team"))
r = inst.deliver("team", make_msg(subject="clean post"))
t.ok(r.returncode == 0 and len(inst.archive_numbers("team")) == n0 + 1, "exit 0 from the filter: post accepted", r.stderr)
env = open(os.path.join(work, "env")).read().split()
t.eq(env, ["team", "member@example.org", "member@example.org"], "the filter gets KAIRAN_LIST, KAIRAN_SENDER, KAIRAN_FROM")

# reject, with the reason in the refusal
inst.clear_queue()
n0 = len(inst.archive_numbers("team"))
r = inst.deliver("team", make_msg(subject="eicar", body=EICAR.decode() + "\n"))
t.ok(r.returncode == 0 and len(inst.archive_numbers("team")) == n0, "EICAR refused by the script filter (exit 0, nothing archived)", r.stderr)
ns = notices_to("member@example.org")
t.ok(len(ns) == 1 and "virus found: EICAR test file" in notice_text(ns[0]),
     "the refusal mail to the sender carries the filter's stdout as the reason",
     notice_text(ns[0]) if ns else "no notice")
t.ok(ns and EICAR not in ns[0]["raw"], "the refusal does not mail the virus back (no attachment)")
t.ok(not [q for q in inst.queue() if "reader@example.net" in q["rcpts"]], "nothing was sent to the members")

# refusal_limit holds for the filter's refusals as for any other refusal
inst.clear_queue()
inst.config("team", "refusal_limit", "2")
codes = [inst.deliver("team", make_msg(subject=f"eicar {i}", body=EICAR.decode() + "\n")).returncode for i in range(5)]
ns = notices_to("member@example.org")
t.ok(codes == [0] * 5 and len(ns) == 1, "refusal_limit 2: five refused posts get one more refusal this hour (two in all)",
     f"exit codes {codes}, {len(ns)} notices")
inst.config("team", "refusal_limit", "10")

# hold
inst.clear_queue()
r = inst.deliver("team", make_msg(subject="cheap pills", extra="X-Spam-Flag: YES\n"))
held = inst.run("held", "team").stdout.decode()
t.ok(r.returncode == 0 and "cheap pills" in held and len(inst.archive_numbers("team")) == n0,
     "exit 2: held for the moderators", held + r.stderr.decode())
t.ok("looks like spam" in held or "looks like spam" in inst.log(), "the hold reason is the filter's stdout")
t.ok(any(q["msg"]["X-Kairan-Notice"] == "held_notice" for q in inst.queue()), "the moderators are told")

# other exit status: temporary failure
inst.clear_queue()
r = inst.deliver("team", make_msg(subject="crash", body="please-crash\n"))
t.ok(r.returncode == 75 and len(inst.archive_numbers("team")) == n0 and not inst.queue(),
     "exit 3 from the filter -> deliver exits 75, nothing archived or queued", r.stderr)

# timeout: temporary failure, filter killed
start = time.time()
r = inst.deliver("team", make_msg(subject="slow", body="please-sleep\n"))
took = time.time() - start
t.ok(r.returncode == 75 and len(inst.archive_numbers("team")) == n0 and not inst.queue(),
     "filter timeout -> 75, nothing archived or queued", r.stderr)
t.ok(took < 10, f"deliver gave up after the 2 s filter_timeout ({took:.1f} s)")
ps = subprocess.run(["pgrep", "-f", f"{work}/filter.sh"], capture_output=True).stdout.split()
t.ok(not ps, "the timed-out filter was killed with its children", ps)

# a filter command that does not exist: temporary failure
set_global(filter_command=os.path.join(work, "missing-filter"))
r = inst.deliver("team", make_msg(subject="no filter"))
t.ok(r.returncode == 75, "a missing filter program -> 75", r.stderr)
set_global(filter_command=None)

# --- clamd -----------------------------------------------------------------
clamd = which("clamd")
if not clamd:
    t.skip("clamd INSTREAM", "clamav-daemon not installed")
else:
    db = os.path.join(work, "db")
    os.makedirs(db)
    os.chmod(work, 0o755)
    sig = EICAR[34:68].hex()  # "EICAR-STANDARD-ANTIVIRUS-TEST-FILE"
    with open(os.path.join(db, "kairan-test.ndb"), "w") as f:
        f.write(f"Kairan-Test.EICAR:0:*:{sig}\n")
    sock = os.path.join(work, "clamd.sock")
    port = free_port()
    with open(os.path.join(work, "clamd.conf"), "w") as f:
        f.write(f"Foreground yes\nLocalSocket {sock}\nTCPSocket {port}\nTCPAddr 127.0.0.1\n"
                f"DatabaseDirectory {db}\nTemporaryDirectory {work}\nLogFile {work}/clamd.log\n")
    proc = subprocess.Popen([clamd, "-c", os.path.join(work, "clamd.conf")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        up = wait_port(port, timeout=60)
        t.ok(up, "a real clamd runs offline with a local signature database")
        set_global(clamd_socket=sock)
        inst.clear_queue()
        n0 = len(inst.archive_numbers("team"))
        r = inst.deliver("team", make_msg(subject="clean for clamd"))
        t.ok(r.returncode == 0 and len(inst.archive_numbers("team")) == n0 + 1, "clamd (unix socket): a clean post is accepted", r.stderr)
        att = base64.encodebytes(EICAR).decode()
        body = ("--BB\nContent-Type: text/plain\n\nsee the attachment\n--BB\n"
                "Content-Type: application/octet-stream; name=eicar.com\nContent-Transfer-Encoding: base64\n\n"
                f"{att}--BB--\n")
        raw = make_msg(subject="attachment", body=body).replace(
            b"Content-Type: text/plain; charset=utf-8", b"Content-Type: multipart/mixed; boundary=BB")
        inst.clear_queue()
        r = inst.deliver("team", raw)
        ns = notices_to("member@example.org")
        t.ok(r.returncode == 0 and len(inst.archive_numbers("team")) == n0 + 1 and len(ns) == 1 and
             "Kairan-Test.EICAR" in notice_text(ns[0]),
             "clamd: EICAR in a base64 attachment is refused, the signature named in the refusal",
             (notice_text(ns[0]) if ns else "no notice") + r.stderr.decode())
        set_global(clamd_socket=f"127.0.0.1:{port}")
        inst.clear_queue()
        r = inst.deliver("team", raw)
        t.ok(r.returncode == 0 and len(notices_to("member@example.org")) == 1 and
             len(inst.archive_numbers("team")) == n0 + 1, "clamd over TCP (host:port): EICAR refused")
    finally:
        proc.terminate()
        proc.wait()
    r = inst.deliver("team", make_msg(subject="clamd down"))
    t.ok(r.returncode == 75, "clamd not running -> 75 (the MTA retries)", r.stderr)
    set_global(clamd_socket=None)

shutil.rmtree(work, ignore_errors=True)
t.done()
