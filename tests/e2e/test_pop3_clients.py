#!/usr/bin/env python3
"""test_pop3_clients.py - real POP3 clients against `kairan pop3d`:
curl's pop3:// (LIST, RETR by number, with USER/PASS, APOP and SASL
PLAIN) and fetchmail fetching a whole archive into an mbox through an
MDA, compared byte for byte with the spool files.  The archive is
built by posting through `kairan deliver` (generated posts, plus the
shared corpus when it is there)."""
import os
import shutil
import subprocess
import tempfile

from kt import Tap, Instance, Pop3d, make_msg, corpus_files, crlf_size

t = Tap()
inst = Instance()
inst.newlist("team")
inst.subscribe("team", "ann@example.org")
inst.config("team", "post_policy", "anyone")
inst.check("passwd", "team", "ann@example.org", stdin=b"fetch me\n")

for i in range(12):
    body = f"Post {i}.\n.dotted line {i}\nFrom here on\n" + "text line\n" * i
    r = inst.deliver("team", make_msg(subject=f"post {i}", body=body), sender="ann@example.org")
    assert r.returncode == 0, r.stderr
corpus = corpus_files("japanese") + corpus_files("attachments")
if not corpus:
    t.diag("../shared/corpus absent: only generated posts")
for path in corpus:
    with open(path, "rb") as f:
        inst.deliver("team", f.read(), sender="corpus@example.org")
nums = inst.archive_numbers("team")
archived = {}
t.ok(len(nums) >= 12, f"{len(nums)} posts archived through kairan deliver")


def spool(n):
    with open(inst.path("spool", "team", "archive", str(n)), "rb") as f:
        return f.read()


archived.update({n: spool(n) for n in nums})


def curl(*args):
    return subprocess.run(["curl", "-sS", "--max-time", "30", *args], capture_output=True, timeout=60)


with Pop3d(inst, pop3_login_delay="0.05") as d:
    url = f"pop3://127.0.0.1:{d.port}/"
    user = "ann@example.org/team:fetch me"
    for opts, how in ((["--login-options", "AUTH=+APOP"], "APOP"),
                      (["--login-options", "AUTH=PLAIN"], "SASL PLAIN"),
                      ([], "curl's default")):
        r = curl(*opts, "-u", user, url)
        listing = r.stdout.decode().split("\r\n")
        got = {int(a): int(b) for a, b in (x.split() for x in listing if x)}
        want = {k + 1: crlf_size(spool(n)) for k, n in enumerate(nums)}
        t.ok(r.returncode == 0 and got == want, f"curl LIST ({how}) lists every post with its CRLF size",
             r.stderr + r.stdout[:300])
    ok = True
    for k in (1, 2, len(nums)):
        r = curl("-u", user, f"{url}{k}")
        want = spool(nums[k - 1]).replace(b"\n", b"\r\n")
        if r.returncode != 0 or r.stdout != want:
            ok = False
            t.diag(f"curl RETR {k}: rc={r.returncode} {r.stderr}")
    t.ok(ok, "curl RETR by number gives the archive file (in CRLF form) exactly")
    r = curl("-u", user, f"{url}{len(nums) + 1}")
    t.ok(r.returncode != 0, "curl RETR of a missing number fails", r.stdout)
    r = curl("-u", "ann@example.org/team:wrong", url)
    t.ok(r.returncode != 0 and not r.stdout, "curl with a wrong password gets nothing")

    # fetchmail: the whole archive into an mbox through an MDA
    fm = shutil.which("fetchmail")
    if not fm:
        t.skip("fetchmail fetches the archive", "fetchmail not installed (apt-get install fetchmail)")
    else:
        work = tempfile.mkdtemp(prefix="kairan-fetchmail-")
        mbox = os.path.join(work, "mbox")
        rc = os.path.join(work, "fetchmailrc")
        with open(rc, "w") as f:
            f.write(f'set no syslog\nset invisible\n'
                    f'poll 127.0.0.1 service {d.port} protocol POP3 uidl\n'
                    f'  user "ann@example.org/team" password "fetch me"\n'
                    f'  options fetchall no rewrite no keep sslproto ""\n'
                    f'  mda "cat >> {mbox}"\n')
        os.chmod(rc, 0o600)
        env = dict(os.environ, HOME=work, FETCHMAILHOME=work)

        def fetch():
            return subprocess.run([fm, "-f", rc, "-i", os.path.join(work, "ids"), "--nodetach",
                                   "--pidfile", os.path.join(work, "pid")],
                                  capture_output=True, timeout=120, env=env)
        r = fetch()
        t.ok(r.returncode == 0, "fetchmail ran successfully", r.stderr + r.stdout)
        got = open(mbox, "rb").read() if os.path.exists(mbox) else b""
        # POP3 cannot carry a last line without a line end: RETR adds one
        # (RFC 1939 section 3), so a spool file without one gets one "\n".
        want = b"".join(s if s.endswith(b"\n") else s + b"\n" for s in map(spool, nums))
        t.ok(got == want, f"fetchmail's mbox is the archive byte for byte ({len(got)} of {len(want)} bytes)",
             r.stderr[-2000:])
        if got != want:
            at = next((i for i in range(min(len(got), len(want))) if got[i] != want[i]), None)
            t.diag(f"first difference at {at}: got {got[at - 40:at + 40]!r} want {want[at - 40:at + 40]!r}")
        # fetchmail deleted what it fetched: hidden for ann, archive unchanged
        r = fetch()
        t.eq(r.returncode, 1, "a second fetchmail run finds no mail (exit 1): DELE kept for ann")
        t.ok(open(mbox, "rb").read() == want, "the mbox got nothing twice")
        t.ok(all(spool(n) == archived[n] for n in nums) and inst.archive_numbers("team") == nums,
             "the archive itself is unchanged after fetchmail's DELEs")
        shutil.rmtree(work, ignore_errors=True)
    t.ok(d.alive(), "pop3d still running")
out = d.output()
t.ok("Sanitizer" not in out and "runtime error" not in out, "pop3d stopped without sanitizer reports", out[-3000:])
t.done()
