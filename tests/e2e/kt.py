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
            if f.endswith((".md", ".txt")) and f == "SOURCES.md":
                continue
            if f == "SOURCES.md":
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


# ---- relay helpers (src/relay) ----

SMTP_SINK = "/usr/sbin/smtp-sink"


class Sink:
    """Postfix's smtp-sink on a loopback port, dumping every transaction
    into its own file under a temporary directory (-d).  extra: more
    smtp-sink options, e.g. ["-r", "RCPT"] (4xx), ["-f", "RCPT"] (5xx),
    ["-q", "."] (drop after the final dot)."""

    def __init__(self, port=None, extra=()):
        self.port = port or free_port()
        self.dir = tempfile.mkdtemp(prefix="kairan-sink-")
        os.chmod(self.dir, 0o1777)
        args = [SMTP_SINK, "-c"]
        if os.geteuid() == 0:
            args += ["-u", "nobody"]
        args += list(extra) + ["-d", os.path.join(self.dir, "%M."), f"127.0.0.1:{self.port}", "1000"]
        fd, self.counters = tempfile.mkstemp(prefix="kairan-sink-counters-")
        self.proc = subprocess.Popen(args, stdout=fd, stderr=subprocess.DEVNULL)
        os.close(fd)
        if not wait_port(self.port):
            self.stop()
            raise RuntimeError("smtp-sink did not start")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
        if os.path.exists(self.counters):
            os.unlink(self.counters)

    def sessions(self):
        """SMTP sessions the sink has seen so far (its -c counters)."""
        with open(self.counters, "rb") as f:
            text = f.read().decode(errors="replace").replace("\r", "\n")
        found = [line for line in text.split("\n") if "sess=" in line]
        return int(found[-1].split("sess=")[1].split()[0]) if found else 0

    def transactions(self):
        """List of (mail_from, [rcpts], message bytes) for every dump file."""
        out = []
        for name in sorted(os.listdir(self.dir)):
            p = os.path.join(self.dir, name)
            if not os.path.isfile(p):
                continue
            with open(p, "rb") as f:
                data = f.read()
            head, _, body = data.partition(b"\n\n") if data.startswith(b"X-") else (b"", b"", data)
            sender, rcpts, rest = None, [], []
            lines = data.split(b"\n")
            i = 0
            while i < len(lines) and lines[i].startswith(b"X-"):
                line = lines[i].decode(errors="replace")
                if line.startswith("X-Mail-Args:"):
                    sender = line.split(":", 1)[1].strip().split(" ")[0]
                elif line.startswith("X-Rcpt-Args:"):
                    rcpts.append(line.split(":", 1)[1].strip().split(" ")[0])
                i += 1
            out.append((sender, rcpts, b"\n".join(lines[i:])))
        return out

    def recipients(self):
        """Every recipient seen (with repetitions)."""
        return [r for _, rs, _ in self.transactions() for r in rs]

    def wait_recipients(self, n, timeout=20.0):
        end = time.time() + timeout
        while time.time() < end:
            if len(self.recipients()) >= n:
                return True
            time.sleep(0.1)
        return len(self.recipients()) >= n


class Relay:
    """`kairan relay` of an Instance on a free port (stopped by stop())."""

    def __init__(self, inst, port=None, conf=None, user=None):
        self.inst = inst
        self.user = user
        self.port = port or free_port()
        if conf:
            set_global(inst, conf)
        self.proc = None
        self.start()

    def start(self):
        e = dict(os.environ)
        e.pop("KAIRAN_HOME", None)
        self.errlog = open(os.path.join(self.inst.home, "relay.stderr"), "ab")
        self.proc = subprocess.Popen([KAIRAN, "--home", self.inst.home, "relay", "--listen",
                                      f"127.0.0.1:{self.port}"], env=e,
                                     stdout=subprocess.DEVNULL, stderr=self.errlog,
                                     **({"user": self.user} if self.user else {}))
        if not wait_port(self.port):
            self.stop()
            raise RuntimeError("kairan relay did not start: " + open(os.path.join(self.inst.home, "relay.stderr")).read())

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def set_global(inst, conf):
    """Set [global] keys of the instance's kairan.conf (dict)."""
    path = inst.path("kairan.conf")
    lines = open(path).read().split("\n")
    out, in_global, seen = [], False, set()
    for line in lines:
        s = line.strip()
        if s.startswith("["):
            if in_global:
                out += [f"{k}={v}" for k, v in conf.items() if k not in seen]
                seen.update(conf)
            in_global = s == "[global]"
        elif in_global and "=" in s and not s.startswith("#"):
            k = s.split("=", 1)[0].strip()
            if k in conf:
                line = f"{k}={conf[k]}"
                seen.add(k)
        out.append(line)
    if in_global:
        out += [f"{k}={v}" for k, v in conf.items() if k not in seen]
    with open(path, "w") as f:
        f.write("\n".join(out))


def wait_for(cond, timeout=20.0, step=0.1):
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return True
        time.sleep(step)
    return bool(cond())


def bulk_members(inst, name, addrs):
    """Add many members at once straight into kairan.db (test set-up for
    fan-out tests; `kairan subscribe` per address would take minutes)."""
    import sqlite3
    db = sqlite3.connect(inst.path("kairan.db"), timeout=30)
    now = int(time.time())
    with db:
        db.executemany("INSERT OR IGNORE INTO members(list, address, since) VALUES(?, ?, ?)",
                       [(name, a, now) for a in addrs])
    db.close()
