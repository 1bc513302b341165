#!/usr/bin/env python3
"""test_imap_clients.py - real IMAP clients against `kairan imapd`: curl
imap:// and imaps://, mbsync (isync) and offlineimap3 mirroring the whole
archive into a Maildir, compared byte for byte with the spool, fetchmail
over IMAP into an mbox (offlineimap3 re-serialises some corpus mails
itself: for it the generated posts are compared byte for byte, the rest
by Message-ID), and neomutt in tmux opening the folder in thread
view.  The archive is built by posting through `kairan deliver`
(generated posts, a thread, plus the Japanese and attachment corpus
when it is there)."""
import os
import re
import shutil
import subprocess
import tempfile
import time

from kt import Tap, Instance, Imapd, make_msg, corpus_files, self_signed_cert

t = Tap()
inst = Instance()
inst.newlist("team")
inst.subscribe("team", "ann@example.org")
inst.config("team", "post_policy", "anyone")
inst.check("passwd", "team", "ann@example.org", stdin=b"fetch me\n")
USER, PASS = "ann@example.org/team", "fetch me"

for i in range(12):
    body = f"Post {i}.\n.dotted line {i}\nFrom here on\n" + "text line\n" * i
    extra = "In-Reply-To: <t0@example.org>\nReferences: <t0@example.org>\n" if i in (3, 7) else ""
    r = inst.deliver("team", make_msg(subject=f"post {i}" if not extra else "Re: post 0", body=body,
                                      msgid=f"<t{i}@example.org>", extra=extra), sender="ann@example.org")
    assert r.returncode == 0, r.stderr
corpus = corpus_files("japanese") + corpus_files("attachments")
if not corpus:
    t.diag("../shared/corpus absent: only generated posts")
for path in corpus:
    with open(path, "rb") as f:
        inst.deliver("team", f.read(), sender="corpus@example.org")
nums = inst.archive_numbers("team")
t.ok(len(nums) >= 12, f"{len(nums)} posts archived through kairan deliver")


def spool(n):
    with open(inst.path("spool", "team", "archive", str(n)), "rb") as f:
        return f.read()


def crlf(b):
    return re.sub(rb"(?<!\r)\n", b"\r\n", b)


def curl(*args):
    return subprocess.run(["curl", "-sS", "--max-time", "30", *args], capture_output=True, timeout=60)


def maildir_messages(root):
    """the files of every cur/ and new/ under root, by the UID mbsync or
    offlineimap recorded in the name (U=N / ,U=N)."""
    out = {}
    for dirpath, _, files in os.walk(root):
        if os.path.basename(dirpath) not in ("cur", "new"):
            continue
        for f in files:
            m = re.search(r"[,:]?U=(\d+)", f)
            with open(os.path.join(dirpath, f), "rb") as fh:
                out[int(m.group(1)) if m else f] = fh.read()
    return out


def first_difference(name, got, want):
    """a diagnostic for the first post that differs."""
    for k in sorted(want):
        a, b = got.get(k, b""), want[k]
        if a != b:
            at = next((i for i in range(min(len(a), len(b))) if a[i] != b[i]), min(len(a), len(b)))
            t.diag(f"{name} post {k} ({len(a)} vs {len(b)} bytes) at {at}: {a[at - 60:at + 60]!r} "
                   f"spool {b[at - 60:at + 60]!r}")
            return


tmp = tempfile.mkdtemp(prefix="kairan-imap-clients-")
cert, key = self_signed_cert(tmp)

with Imapd(inst, imaps=True, tls_cert=cert, tls_key=key, imap_login_delay="0.05") as d:
    url = f"imap://127.0.0.1:{d.port}/INBOX"
    # ---- curl ----------------------------------------------------------
    ok = True
    for n in (nums[0], nums[len(nums) // 2], nums[-1]):
        r = curl("-u", f"{USER}:{PASS}", f"{url};UID={n}")
        if r.returncode != 0 or r.stdout != crlf(spool(n)):
            ok = False
            t.diag(f"curl UID={n}: rc={r.returncode} {r.stderr}")
    t.ok(ok, "curl imap://…/INBOX;UID=N gives the post (CRLF) exactly")
    r = curl("-u", f"{USER}:{PASS}", url, "-X", "UID SEARCH ALL")
    t.ok(r.returncode == 0 and r.stdout.decode().split()[2:] == [str(n) for n in nums],
         "curl -X 'UID SEARCH ALL' lists every post number", r.stdout[:200] + r.stderr)
    r = curl("-u", f"{USER}:{PASS}", f"imap://127.0.0.1:{d.port}/")
    t.ok(r.returncode == 0 and b"INBOX" in r.stdout, "curl imap:// lists the folders", r.stdout + r.stderr)
    r = curl("-k", "-u", f"{USER}:{PASS}", f"imaps://127.0.0.1:{d.tls_port}/INBOX;UID={nums[0]}")
    t.ok(r.returncode == 0 and r.stdout == crlf(spool(nums[0])), "curl imaps:// (implicit TLS)", r.stderr)
    r = curl("-k", "--ssl-reqd", "-u", f"{USER}:{PASS}", f"{url};UID={nums[1]}")
    t.ok(r.returncode == 0 and r.stdout == crlf(spool(nums[1])), "curl --ssl-reqd imap:// (STARTTLS)", r.stderr)
    r = curl("-u", f"{USER}:wrong", f"{url};UID=1")
    t.ok(r.returncode != 0 and not r.stdout, "curl with a wrong password gets nothing")

    # ---- mbsync ------------------------------------------------------
    if not shutil.which("mbsync"):
        t.skip("mbsync mirrors the archive", "mbsync not installed (apt-get install isync)")
    else:
        work = tempfile.mkdtemp(prefix="kairan-mbsync-")
        rc = os.path.join(work, "mbsyncrc")
        with open(rc, "w") as f:
            f.write(f'IMAPAccount kairan\nHost localhost\nPort {d.tls_port}\nUser "{USER}"\nPass "{PASS}"\n'
                    f'SSLType IMAPS\nCertificateFile {cert}\n\n'
                    f'IMAPStore remote\nAccount kairan\n\n'
                    f'MaildirStore local\nPath {work}/mail/\nInbox {work}/mail/INBOX\n\n'
                    f'Channel archive\nFar :remote:\nNear :local:\nPatterns INBOX\nCreate Near\nSync Pull\n'
                    f'SyncState *\n')
        env = dict(os.environ, HOME=work)
        os.makedirs(os.path.join(work, "mail"))
        r = subprocess.run(["mbsync", "-c", rc, "archive"], capture_output=True, timeout=120, env=env)
        t.ok(r.returncode == 0, "mbsync ran successfully (IMAPS)", r.stderr + r.stdout)
        # mbsync marks each copy with its own X-TUID: header line; the rest is the post
        got = {k: re.sub(rb"\nX-TUID: [^\n]*\n", b"\n", v, count=1) for k, v in
               maildir_messages(os.path.join(work, "mail")).items()}
        want = {n: spool(n) for n in nums}
        t.ok(got == want, f"mbsync's Maildir holds every post byte for byte, but for its X-TUID "
             f"({len(got)} of {len(want)})", str(sorted(set(got) ^ set(want)))[:300])
        first_difference("mbsync", got, want)
        r = subprocess.run(["mbsync", "-c", rc, "archive"], capture_output=True, timeout=120, env=env)
        t.ok(r.returncode == 0 and len(maildir_messages(os.path.join(work, "mail"))) == len(want),
             "a second mbsync run changes nothing", r.stderr)

    # ---- offlineimap3 --------------------------------------------------
    if not shutil.which("offlineimap"):
        t.skip("offlineimap mirrors the archive", "offlineimap not installed (apt-get install offlineimap3)")
    else:
        work = tempfile.mkdtemp(prefix="kairan-offlineimap-")
        rc = os.path.join(work, "offlineimaprc")
        with open(rc, "w") as f:
            f.write(f"[general]\naccounts = k\nmetadata = {work}/meta\n\n[Account k]\nlocalrepository = L\n"
                    f"remoterepository = R\n\n[Repository L]\ntype = Maildir\nlocalfolders = {work}/mail\n\n"
                    f"[Repository R]\ntype = IMAP\nremotehost = 127.0.0.1\nremoteport = {d.port}\n"
                    f"remoteuser = {USER}\nremotepass = {PASS}\nssl = no\nstarttls = no\nreadonly = True\n"
                    f"folderfilter = lambda f: f == 'INBOX'\n")
        r = subprocess.run(["offlineimap", "-c", rc, "-o", "-u", "basic"], capture_output=True, timeout=180,
                           env=dict(os.environ, HOME=work))
        t.ok(r.returncode == 0, "offlineimap ran successfully", (r.stderr + r.stdout)[-1500:])
        got = maildir_messages(os.path.join(work, "mail"))
        want = {n: spool(n) for n in nums}
        exact = [k for k in want if got.get(k) == want[k]]

        def msgid(m):
            found = re.search(rb"(?im)^Message-ID:[ \t]*(<[^>\r\n]*>)", m)
            return found.group(1) if found else None
        # offlineimap3 passes messages through Python's email package, which
        # trims blanks at header line ends and closes unclosed multiparts:
        # the generated posts are plain and must arrive untouched
        t.ok(len(got) == len(want) and all(msgid(got[k]) == msgid(want[k]) for k in want),
             f"offlineimap mirrors every post ({len(exact)} of {len(want)} byte for byte)")
        t.ok(all(got.get(n) == want[n] for n in nums[:12]), "offlineimap: the 12 generated posts are byte for byte")
        first_difference("offlineimap", {k: got[k] for k in nums[:12] if k in got}, {k: want[k] for k in nums[:12]})

    # ---- fetchmail over IMAP -------------------------------------------
    fm = shutil.which("fetchmail")
    if not fm:
        t.skip("fetchmail fetches over IMAP", "fetchmail not installed")
    else:
        work = tempfile.mkdtemp(prefix="kairan-fetchmail-imap-")
        mbox = os.path.join(work, "mbox")
        rc = os.path.join(work, "fetchmailrc")
        with open(rc, "w") as f:
            f.write(f'set no syslog\nset invisible\n'
                    f'poll 127.0.0.1 service {d.port} protocol IMAP\n'
                    f'  user "{USER}" password "{PASS}"\n'
                    f'  options fetchall keep no rewrite sslproto ""\n'
                    f'  mda "cat >> {mbox}"\n')
        os.chmod(rc, 0o600)
        r = subprocess.run([fm, "-f", rc, "--nodetach", "--pidfile", os.path.join(work, "pid")],
                           capture_output=True, timeout=120, env=dict(os.environ, HOME=work, FETCHMAILHOME=work))
        t.ok(r.returncode == 0, "fetchmail (IMAP) ran successfully", r.stderr + r.stdout)
        got = open(mbox, "rb").read() if os.path.exists(mbox) else b""
        want = b"".join(s if s.endswith(b"\n") else s + b"\n" for s in map(spool, nums))
        t.ok(got == want, f"fetchmail's mbox is the archive byte for byte ({len(got)} of {len(want)} bytes)",
             r.stderr[-1000:])
        if got != want:
            at = next((i for i in range(min(len(got), len(want))) if got[i] != want[i]), None)
            t.diag(f"first difference at {at}: got {got[at - 60:at + 60]!r} want {want[at - 60:at + 60]!r}")

    # ---- neomutt in tmux -----------------------------------------------
    mutt = shutil.which("neomutt") or shutil.which("mutt")
    if not mutt or not shutil.which("tmux"):
        t.skip("neomutt shows the folder in threads", "neomutt or tmux not installed")
    else:
        work = tempfile.mkdtemp(prefix="kairan-neomutt-")
        rc = os.path.join(work, "muttrc")
        with open(rc, "w") as f:
            f.write(f'set folder="imap://127.0.0.1:{d.port}/"\nset imap_user="{USER}"\n'
                    f'set spoolfile="+INBOX"\nset imap_pass="{PASS}"\nset ssl_starttls=no\nset ssl_force_tls=no\n'
                    f'set sort=threads\nset sort_aux=date\nset header_cache=""\nset message_cachedir=""\n'
                    f'set mail_check_stats=no\nset imap_check_subscribed=no\nset timeout=1\n'
                    f'set index_format="%4C %s"\n')
        sess = f"kairan-imap-{os.getpid()}"
        subprocess.run(["tmux", "new-session", "-d", "-s", sess, "-x", "120", "-y", "40",
                        f"{mutt} -n -F {rc}"], env=dict(os.environ, HOME=work, TERM="xterm"), check=True)
        screen = ""
        for _ in range(40):
            time.sleep(0.25)
            screen = subprocess.run(["tmux", "capture-pane", "-p", "-t", sess], capture_output=True,
                                    text=True).stdout
            if "Msgs:" in screen and "+INBOX" in screen:
                break
        subprocess.run(["tmux", "send-keys", "-t", sess, "="], capture_output=True)
        time.sleep(0.5)
        screen = subprocess.run(["tmux", "capture-pane", "-p", "-t", sess], capture_output=True, text=True).stdout
        subprocess.run(["tmux", "kill-session", "-t", sess], capture_output=True)
        t.ok("post 0" in screen and re.search(r"[└├]─>|`->", screen) is not None,
             "neomutt opens the folder and shows the replies threaded under post 0", screen[-1500:])

t.done()
