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
import json
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
            try:
                with open(os.path.join(envdir, qid)) as f:
                    for line in f:
                        line = line.rstrip("\n")
                        if line.startswith("S "):
                            sender = line[2:]
                        elif line.startswith("R "):
                            rcpts.append(line[2:])
                with open(self.path("queue", "msg", qid), "rb") as f:
                    raw = f.read()
            except FileNotFoundError:
                continue            # a running relay finished and removed it meanwhile
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


# ---- web interface helpers (src/web) ----

import http.client
import re
import signal
import urllib.parse

KAIRAN_CGI = os.environ.get("KAIRAN_CGI") or os.path.join(os.path.dirname(KAIRAN), "cgi", "kairan.cgi")


def set_global(inst, key=None, value=None, **keys):
    """Set (or add) [global] keys in the instance's kairan.conf:
    set_global(inst, "web_url", "http://x/") or set_global(inst, pop3_apop="no")."""
    if key is not None:
        keys = {key: value, **keys}
    p = inst.path("kairan.conf")
    lines = open(p, encoding="utf-8").read().split("\n")
    start = lines.index("[global]") + 1
    end = next((i for i in range(start, len(lines)) if lines[i].startswith("[")), len(lines))
    for k, v in keys.items():
        for i in range(start, end):
            if lines[i].split("=", 1)[0].strip() == k:
                lines[i] = f"{k}={v}"
                break
        else:
            lines.insert(start, f"{k}={v}")
            end += 1
    open(p, "w", encoding="utf-8").write("\n".join(lines))


class WebServer:
    """`kairan web` on a free loopback port; stop() (or `with`) ends it."""

    def __init__(self, inst, port=None):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        e = dict(os.environ)
        e.pop("KAIRAN_HOME", None)
        self.proc = subprocess.Popen([KAIRAN, "--home", inst.home, "web", "--listen", f"127.0.0.1:{self.port}"],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=e)
        if not wait_port(self.port):
            self.stop()
            raise RuntimeError("kairan web did not start: " + self.proc.stderr.read().decode(errors="replace"))

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for f in (self.proc.stdout, self.proc.stderr):
            if f:
                f.close()
        self.proc = None

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.stop()


class WebResp:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body
        self.text = body.decode("utf-8", errors="replace")

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def header_all(self, name):
        return [v for k, v in self.headers if k.lower() == name.lower()]


class WebClient:
    """A cookie-keeping client of the web interface, through `kairan web`
    (server=WebServer) or through cgi/kairan.cgi (cgi=True, run with CGI/1.1
    environment variables).  Paths are below the base ("/login")."""

    CGI_BASE = "/cgi-bin/kairan.cgi"

    def __init__(self, inst, server=None, cgi=False, remote_addr="127.0.0.1", lang="en"):
        self.inst, self.server, self.cgi = inst, server, cgi
        self.cookies = {}
        self.remote_addr = remote_addr
        self.lang = lang
        self.base = self.CGI_BASE if cgi else ""

    def _store_cookies(self, resp):
        for sc in resp.header_all("Set-Cookie"):
            nv = sc.split(";", 1)[0]
            name, _, value = nv.partition("=")
            if "Max-Age=0" in sc or value == "":
                self.cookies.pop(name.strip(), None)
            else:
                self.cookies[name.strip()] = value.strip()

    def request(self, method, path, data=None, headers=None, files=None, raw_body=None, content_type=None):
        headers = dict(headers or {})
        body = b""
        if files:
            boundary = "kt" + os.urandom(8).hex()
            parts = []
            for k, v in (data or {}).items():
                parts.append(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n".encode())
            for k, (fname, content) in files.items():
                parts.append(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"; filename=\"{fname}\"\r\n"
                             f"Content-Type: text/csv\r\n\r\n".encode() + content + b"\r\n")
            body = b"".join(parts) + f"--{boundary}--\r\n".encode()
            content_type = f"multipart/form-data; boundary={boundary}"
        elif raw_body is not None:
            body = raw_body
        elif data is not None:
            body = urllib.parse.urlencode(data, doseq=True).encode()
            content_type = content_type or "application/x-www-form-urlencoded"
        if content_type:
            headers["Content-Type"] = content_type
        if self.cookies and "Cookie" not in headers:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        headers.setdefault("Accept-Language", self.lang)
        resp = self._cgi(method, path, headers, body) if self.cgi else self._http(method, path, headers, body)
        self._store_cookies(resp)
        return resp

    def _http(self, method, path, headers, body):
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=30)
        try:
            conn.request(method, path, body=body if (body or method == "POST") else None, headers=headers)
            r = conn.getresponse()
            return WebResp(r.status, r.getheaders(), r.read())
        finally:
            conn.close()

    def _cgi(self, method, path, headers, body):
        p, _, q = path.partition("?")
        env = {k: v for k, v in os.environ.items() if not k.startswith("HTTP_")}
        env.update({"GATEWAY_INTERFACE": "CGI/1.1", "REQUEST_METHOD": method,
                    "PATH_INFO": urllib.parse.unquote(p) if "%00" not in p else p, "QUERY_STRING": q,
                    "SCRIPT_NAME": self.CGI_BASE, "SERVER_NAME": "localhost", "SERVER_PORT": "80",
                    "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": self.remote_addr,
                    "KAIRAN_HOME": self.inst.home, "CONTENT_LENGTH": str(len(body))})
        for k, v in headers.items():
            if k.lower() == "content-type":
                env["CONTENT_TYPE"] = v
            elif k.lower() == "content-length":
                env["CONTENT_LENGTH"] = v
            else:
                env["HTTP_" + k.upper().replace("-", "_")] = v
        r = subprocess.run([KAIRAN_CGI], input=body, capture_output=True, env=env, timeout=60)
        head, _, rest = r.stdout.partition(b"\r\n\r\n")
        status, hdrs = 200, []
        for line in head.decode("utf-8", errors="replace").split("\r\n"):
            k, _, v = line.partition(":")
            if k.lower() == "status":
                status = int(v.strip().split()[0])
            elif k:
                hdrs.append((k.strip(), v.strip()))
        return WebResp(status, hdrs, rest)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, data=None, **kw):
        return self.request("POST", path, data=data, **kw)

    def csrf(self, path):
        r = self.get(path)
        m = re.search(r'name="csrf" value="([0-9a-f]+)"', r.text)
        return m.group(1) if m else None

    def form_post(self, page, action=None, data=None, **kw):
        """GET page for its CSRF token, then POST data (plus csrf) to action."""
        d = dict(data or {})
        d["csrf"] = self.csrf(page)
        return self.post(action or page, d, **kw)

    def login(self, list_name, address, password):
        return self.form_post("/login", data={"list": list_name, "address": address, "password": password})


def confirm_links(inst):
    """Confirmation links (…/confirm/TOKEN) in the queued mails."""
    links = []
    for q in inst.queue():
        body = q["msg"].get_body(preferencelist=("plain",))
        text = body.get_content() if body else ""
        links += re.findall(r"https?://\S+/confirm/[0-9a-f]{32}", text)
    return links


# ---- POP3 helpers (src/pop3) ------------------------------------------

class Pop3d:
    """`kairan pop3d` on a free loopback port; use as a context manager
    (stops the daemon on exit, also on failure)."""

    def __init__(self, inst, pop3s=False, **conf):
        if conf:
            set_global(inst, **conf)
        self.inst = inst
        self.port = free_port()
        self.tls_port = free_port() if pop3s else None
        args = [KAIRAN, "--home", inst.home, "pop3d", "--listen", f"127.0.0.1:{self.port}"]
        if pop3s:
            args += ["--listen-tls", f"127.0.0.1:{self.tls_port}"]
        # output to a file, not a pipe nobody reads (a full pipe would block it)
        self.errfile = inst.path(f"pop3d-{self.port}.err")
        with open(self.errfile, "wb") as err:
            self.proc = subprocess.Popen(args, stdout=err, stderr=subprocess.STDOUT)
        if not wait_port(self.port) or (pop3s and not wait_port(self.tls_port)):
            self.stop()
            raise RuntimeError("pop3d did not start: " + self.output())

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def alive(self):
        return self.proc.poll() is None

    def output(self):
        """What the daemon wrote on stdout/stderr so far."""
        with open(self.errfile, "rb") as f:
            return f.read().decode(errors="replace")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


class Imapd(Pop3d):
    """`kairan imapd` on a free loopback port (imaps=True: also IMAPS);
    a context manager like Pop3d."""

    def __init__(self, inst, imaps=False, **conf):
        if conf:
            set_global(inst, **conf)
        self.inst = inst
        self.port = free_port()
        self.tls_port = free_port() if imaps else None
        args = [KAIRAN, "--home", inst.home, "imapd", "--listen", f"127.0.0.1:{self.port}"]
        if imaps:
            args += ["--listen-tls", f"127.0.0.1:{self.tls_port}"]
        self.errfile = inst.path(f"imapd-{self.port}.err")
        with open(self.errfile, "wb") as err:
            self.proc = subprocess.Popen(args, stdout=err, stderr=subprocess.STDOUT)
        if not wait_port(self.port) or (imaps and not wait_port(self.tls_port)):
            self.stop()
            raise RuntimeError("imapd did not start: " + self.output())


def self_signed_cert(directory, cn="localhost"):
    """A self-signed certificate and key made by `openssl req`: (cert, key)."""
    cert, key = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", f"/CN={cn}", "-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    return cert, key


def crlf_size(data):
    """The octet count of bytes in CRLF form (what POP3 LIST reports)."""
    out = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    if out and not out.endswith(b"\n"):
        out += b"\r\n"
    return len(out)


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
        """List of (mail_from, [rcpts], message bytes) for every dump file.
        smtp-sink writes a dump file while the transaction goes on: wait
        until no file has changed for a moment, so none is read half-written."""
        for _ in range(50):
            now = time.time()
            try:
                fresh = any(now - os.stat(os.path.join(self.dir, n)).st_mtime < 0.25
                            for n in os.listdir(self.dir))
            except FileNotFoundError:
                fresh = True
            if not fresh:
                break
            time.sleep(0.1)
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

    def __init__(self, inst, port=None, conf=None, user=None, env=None):
        self.inst = inst
        self.user = user
        self.env = env or {}        # more environment, e.g. KAIRAN_TEST_NOW_OFFSET
        self.port = port or free_port()
        if conf:
            set_global(inst, **conf)
        self.proc = None
        self.start()

    def start(self):
        e = dict(os.environ)
        e.pop("KAIRAN_HOME", None)
        e.update(self.env)
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


CHROMIUM = os.environ.get("KAIRAN_CHROMIUM", "/usr/bin/chromium")
WEBDIR = os.path.join(SRCDIR, "tests", "web")


def browser_missing():
    """Why the headless Chromium tests cannot run here, or None."""
    if not os.path.exists(CHROMIUM):
        return f"{CHROMIUM} is missing (apt-get install chromium chromium-driver)"
    if not os.path.isdir(os.path.join(WEBDIR, "node_modules", "playwright-core")):
        return "tests/web/node_modules is missing (cd tests/web && npm ci)"
    if not shutil.which("node"):
        return "node is missing"
    return None


def browser_run(t, script, cfg, cfgfile, timeout=240):
    """Run tests/web/SCRIPT (tests/web/harness.js) on cfg, written to
    cfgfile; each line it reports becomes a check "browser: NAME" (a name
    with "# SKIP why" a skip).  Returns (the finished process, the number
    of reports)."""
    json.dump(dict({"chromium": CHROMIUM}, **cfg), open(cfgfile, "w"))
    r = subprocess.run(["node", os.path.join(WEBDIR, script), cfgfile], capture_output=True, timeout=timeout,
                       cwd=WEBDIR)
    n = 0
    for line in r.stdout.decode(errors="replace").splitlines():
        try:
            rep = json.loads(line)
        except ValueError:
            t.diag(line)
            continue
        n += 1
        if "# SKIP" in rep["name"]:
            name, why = rep["name"].split("# SKIP", 1)
            t.skip(name.strip(), why.strip())
        else:
            t.ok(rep["ok"], "browser: " + rep["name"], rep.get("detail"))
    return r, n
