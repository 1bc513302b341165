"""kt.py - helpers for kairan's end-to-end tests.

Every e2e test is a Python script that prints TAP (automake's tap-driver
counts each check).  It drives the real built binary ($KAIRAN), on a fresh
instance in a temporary directory, with real clients and peers.

    from kt import *
    t = Tap()
    inst = Instance()                    # kairan init in a temp dir
    inst.newlist("team", owner="owner@example.org")
    r = inst.run("deliver", "team", "-f", "a@example.org", stdin=b"...")
    t.ok(r.returncode == 0, "post accepted", r.stderr)
    t.done()                             # prints the plan, exit status
"""
import email
import email.policy
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

KAIRAN = os.environ.get("KAIRAN") or os.path.join(os.path.dirname(__file__), "..", "..", "kairan")
SRCDIR = os.environ.get("KAIRAN_SRCDIR") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SHARED = os.environ.get("KAIRAN_SHARED") or os.path.abspath(os.path.join(SRCDIR, "..", "shared"))
CORPUS = os.path.join(SHARED, "corpus")
DOMAIN = "lists.example.test"


class Tap:
    """Minimal TAP producer: ok(), skip(), done()."""

    def __init__(self):
        self.n = 0
        self.failed = 0
        sys.stdout.reconfigure(line_buffering=True)

    def ok(self, cond, name, detail=None):
        self.n += 1
        name = name.replace("#", "no.").replace("\n", " ")
        if cond:
            print(f"ok {self.n} - {name}")
        else:
            self.failed += 1
            print(f"not ok {self.n} - {name}")
            if detail is not None:
                text = detail.decode(errors="replace") if isinstance(detail, bytes) else str(detail)
                for line in text.splitlines()[-30:]:
                    print("#   " + line)
        return cond

    def eq(self, got, want, name):
        return self.ok(got == want, name, f"got {got!r}, want {want!r}")

    def skip(self, name, why):
        self.n += 1
        print(f"ok {self.n} - {name} # SKIP {why}")

    def skip_all(self, why):
        print(f"1..0 # SKIP {why}")
        sys.exit(0)

    def diag(self, text):
        for line in str(text).splitlines():
            print("# " + line)

    def done(self):
        print(f"1..{self.n}")
        sys.exit(1 if self.failed else 0)


class Instance:
    """A kairan instance in a temporary directory."""

    def __init__(self, domain=DOMAIN, keep=False):
        self.home = tempfile.mkdtemp(prefix="kairan-test-")
        self.domain = domain
        self.keep = keep or bool(os.environ.get("KAIRAN_KEEP"))
        r = self.run("init", "--domain", domain)
        if r.returncode != 0:
            raise RuntimeError("kairan init failed: " + r.stderr.decode())

    def __del__(self):
        if not getattr(self, "keep", True):
            shutil.rmtree(self.home, ignore_errors=True)

    def run(self, *args, stdin=b"", env=None, timeout=120):
        e = dict(os.environ)
        e.pop("KAIRAN_HOME", None)
        if env:
            e.update(env)
        return subprocess.run([KAIRAN, "--home", self.home, *args], input=stdin,
                              capture_output=True, timeout=timeout, env=e)

    def check(self, *args, stdin=b""):
        r = self.run(*args, stdin=stdin)
        if r.returncode != 0:
            raise RuntimeError(f"kairan {' '.join(args)} failed ({r.returncode}): {r.stderr.decode()}")
        return r.stdout.decode()

    def newlist(self, name, owner="owner@example.org", password=None):
        args = ["newlist", name, "--owner", owner]
        if password:
            pf = os.path.join(self.home, f".pw-{name}")
            with open(pf, "w") as f:
                f.write(password + "\n")
            args += ["--password-file", pf]
        return self.check(*args)

    def subscribe(self, name, *addrs):
        for a in addrs:
            self.check("subscribe", name, a)

    def config(self, name, key, value):
        return self.check("config", name, key, value)

    def deliver(self, name, msg, sender="member@example.org", mode=None):
        args = ["deliver"] + ([mode] if mode else []) + [name]
        if sender is not None:
            args += ["-f", sender]
        if isinstance(msg, str):
            msg = msg.encode()
        return self.run(*args, stdin=msg)

    def path(self, *parts):
        return os.path.join(self.home, *parts)

    def archive(self, name, n):
        p = self.path("spool", name, "archive", str(n))
        if not os.path.exists(p):
            return None
        with open(p, "rb") as f:
            return email.message_from_bytes(f.read(), policy=email.policy.default)

    def archive_numbers(self, name):
        d = self.path("spool", name, "archive")
        return sorted(int(x) for x in os.listdir(d) if x.isdigit())

    def queue(self):
        """Queued messages: list of dicts with id, sender, rcpts, msg (parsed), raw."""
        out = []
        envdir = self.path("queue", "env")
        if not os.path.isdir(envdir):
            return out
        for qid in sorted(os.listdir(envdir)):
            if qid.startswith("."):
                continue
            sender, rcpts = None, []
            with open(os.path.join(envdir, qid)) as f:
                for line in f:
                    line = line.rstrip("\n")
                    if line.startswith("S "):
                        sender = line[2:]
                    elif line.startswith("R "):
                        rcpts.append(line[2:])
            with open(self.path("queue", "msg", qid), "rb") as f:
                raw = f.read()
            out.append({"id": qid, "sender": sender, "rcpts": rcpts, "raw": raw,
                        "msg": email.message_from_bytes(raw, policy=email.policy.default)})
        return out

    def clear_queue(self):
        for sub in ("env", "msg", "state"):
            d = self.path("queue", sub)
            if os.path.isdir(d):
                for x in os.listdir(d):
                    os.unlink(os.path.join(d, x))

    def log(self):
        p = self.path("log", "kairan.log")
        return open(p, encoding="utf-8", errors="replace").read() if os.path.exists(p) else ""


def make_msg(subject="hello", frm="Member <member@example.org>", to=f"team@{DOMAIN}",
             body="Hello list.\n", msgid=None, extra=""):
    msgid = msgid or f"<{time.time_ns()}.{os.getpid()}@example.org>"
    return (f"From: {frm}\nTo: {to}\nSubject: {subject}\nMessage-ID: {msgid}\n"
            f"Date: Mon, 23 Nov 2026 10:00:00 +0000\nMIME-Version: 1.0\n{extra}"
            f"Content-Type: text/plain; charset=utf-8\n\n{body}").encode()


def corpus_files(sub=None):
    """Paths of the shared corpus (all, or one subdirectory); [] if absent."""
    base = os.path.join(CORPUS, sub) if sub else CORPUS
    if not os.path.isdir(base):
        return []
    out = []
    for root, _, files in os.walk(base):
        for f in sorted(files):
            if f.startswith(".") or f.endswith(".md"):
                continue
            out.append(os.path.join(root, f))
    return sorted(out)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, host="127.0.0.1", timeout=10.0):
    end = time.time() + timeout
    while time.time() < end:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def which(prog):
    return shutil.which(prog) or (os.path.exists(f"/usr/sbin/{prog}") and f"/usr/sbin/{prog}") or None


# ---- command mail helpers (src/ctl tests) -------------------------------

def ctl_mail(body="", subject="", frm="member@example.org", to=f"team-ctl@{DOMAIN}", extra="",
             charset="utf-8"):
    """A command mail (bytes) built with Python's email package."""
    from email.message import EmailMessage
    m = EmailMessage()
    m["From"] = frm
    m["To"] = to
    m["Subject"] = subject
    m["Message-ID"] = f"<{time.time_ns()}.{os.getpid()}@example.org>"
    for line in extra.splitlines():
        if line.strip():
            k, v = line.split(":", 1)
            m[k.strip()] = v.strip()
    m.set_content(body, charset=charset)
    return m.as_bytes()


def notices(inst, kind=None, to=None):
    """Queued mails kairan wrote (X-Kairan-Notice), optionally of one kind
    (template name) and/or for one recipient."""
    out = []
    for q in inst.queue():
        n = q["msg"].get("X-Kairan-Notice")
        if n is None or (kind and n != kind) or (to and to not in q["rcpts"]):
            continue
        out.append(q)
    return out


def body_text(msg):
    """The first text/plain part of a parsed message, decoded."""
    part = msg.get_body(preferencelist=("plain",))
    return part.get_content() if part is not None else ""


# --- deliverability (issue 8): DKIM records, dnsmasq, independent verifiers ---

def dkim_record(keygen_output):
    """(name, value) of the TXT record printed by `kairan dkim-keygen`."""
    import re
    text = keygen_output.decode() if isinstance(keygen_output, bytes) else keygen_output
    m = re.search(r'^(\S+)\.\s+IN\s+TXT\s+\((.*)\)\s*$', text, re.M)
    if not m:
        return None, None
    return m.group(1), "".join(re.findall(r'"([^"]*)"', m.group(2)))


def dnsmasq_start(txt_records=(), port=None, local=("test",)):
    """A real dnsmasq on 127.0.0.1:port answering the given (name, value)
    TXT records; names under the `local` domains that it has no data for
    get NXDOMAIN (anything else: REFUSED, there is no upstream).  Returns
    (process, port); stop it with proc.terminate(); proc.wait()."""
    port = port or free_port()
    args = [which("dnsmasq") or "/usr/sbin/dnsmasq", "--no-daemon", "--conf-file=/dev/null",
            f"--port={port}", "--listen-address=127.0.0.1", "--bind-interfaces", "--no-resolv",
            "--no-hosts", "--user=nobody", "--pid-file="]
    args += [f"--local=/{d}/" for d in local]
    for name, value in txt_records:
        chunks = [value[i:i + 250] for i in range(0, len(value), 250)] or [""]
        args.append(f"--txt-record={name}," + ",".join(chunks))
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if not wait_port(port):
        proc.kill()
        proc.wait()
        raise RuntimeError("dnsmasq did not start: " + proc.stderr.read().decode(errors="replace"))
    return proc, port


_DKIMPY = r'''
import dkim, json, sys
recs = {k.rstrip(".").lower(): v for k, v in json.loads(sys.argv[1]).items()}
def dnsfunc(name, timeout=5):
    name = name.decode() if isinstance(name, bytes) else name
    v = recs.get(name.rstrip(".").lower())
    return v.encode() if v is not None else None
raw = sys.stdin.buffer.read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
ok = dkim.verify(raw, dnsfunc=dnsfunc)
print("pass" if ok else "fail")
'''


def dkimpy_verify(raw, records):
    """Verify the first DKIM-Signature of raw with dkimpy (Debian's
    python3-dkim, run by /usr/bin/python3); records: {name: TXT value}.
    True/False, or None when dkimpy is not installed."""
    import json
    py = "/usr/bin/python3"
    if not os.path.exists(py) or subprocess.run([py, "-c", "import dkim, nacl"],
                                                capture_output=True).returncode != 0:
        return None
    r = subprocess.run([py, "-c", _DKIMPY, json.dumps(records)], input=raw, capture_output=True)
    return r.stdout.strip() == b"pass"


_DKIMPY_MANY = r'''
import dkim, json, struct, sys
recs = {k.rstrip(".").lower(): v for k, v in json.loads(sys.argv[1]).items()}
def dnsfunc(name, timeout=5):
    name = name.decode() if isinstance(name, bytes) else name
    v = recs.get(name.rstrip(".").lower())
    return v.encode() if v is not None else None
data = sys.stdin.buffer.read()
out = []
while data:
    n = struct.unpack(">I", data[:4])[0]
    raw, data = data[4:4 + n], data[4 + n:]
    raw = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    out.append("pass" if dkim.verify(raw, dnsfunc=dnsfunc) else "fail")
print(" ".join(out))
'''


def dkimpy_verify_many(raws, records):
    """dkimpy_verify for many messages in one process: a list of
    True/False, or None when dkimpy is not installed."""
    import json
    import struct
    if dkimpy_verify(b"From: x\n\nx\n", {}) is None:
        return None
    data = b"".join(struct.pack(">I", len(r)) + r for r in raws)
    r = subprocess.run(["/usr/bin/python3", "-c", _DKIMPY_MANY, json.dumps(records)], input=data,
                       capture_output=True)
    words = r.stdout.decode().split()
    return [w == "pass" for w in words] if len(words) == len(raws) else [False] * len(raws)


def run_with_dns(records, command, files=None):
    """Run the shell command in a private mount and network namespace
    where /etc/resolv.conf names a real dnsmasq on 127.0.0.1:53 serving
    records ({name: TXT value}), for tools that only use the system
    resolver.  files ({name: bytes}) are written to a temporary directory
    whose path the command gets as $D.  Returns the CompletedProcess, or
    None when namespaces are not available (needs root)."""
    if os.geteuid() != 0 or not which("unshare") or not which("dnsmasq"):
        return None
    d = tempfile.mkdtemp(prefix="kairan-dnsns-")
    try:
        with open(os.path.join(d, "resolv.conf"), "w") as f:
            f.write("nameserver 127.0.0.1\n")
        for name, data in (files or {}).items():
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)
        recs = ""
        for name, value in records.items():
            chunks = [value[i:i + 250] for i in range(0, len(value), 250)]
            arg = f"--txt-record={name}," + ",".join(chunks)
            recs += " '" + arg.replace("'", "'\\''") + "'"
        script = (f"D={d}; ip link set lo up || exit 111; mount --bind {d}/resolv.conf /etc/resolv.conf || exit 111; "
                  f"{which('dnsmasq')} --conf-file=/dev/null --port=53 --listen-address=127.0.0.1 "
                  f"--bind-interfaces --no-resolv --no-hosts --user=nobody --pid-file={d}/pid{recs} || exit 111; "
                  f"{command}; rc=$?; kill $(cat {d}/pid); exit $rc")
        r = subprocess.run(["unshare", "-mn", "sh", "-c", script], capture_output=True, timeout=60)
        return None if r.returncode == 111 else r
    finally:
        shutil.rmtree(d, ignore_errors=True)


def opendkim_verify(raw, records):
    """Verify raw with opendkim-testmsg (opendkim-tools), which looks the
    key up through the system resolver (run_with_dns).  Returns its exit
    status (0 = good signature), or None when it cannot run here."""
    if not which("opendkim-testmsg"):
        return None
    msg = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    r = run_with_dns(records, 'opendkim-testmsg < "$D/msg"', {"msg": msg})
    return None if r is None else r.returncode
