#!/usr/bin/env python3
"""web_import.py - benchmark of the web's archive import and export
(/admin/LIST/import, /admin/LIST/archive.mbox) beside the command line and
a baseline: a POSTS-post mbox (about 1 KB a post) uploaded through
`kairan web` (multipart, sent from the file in 64 KB pieces) and
`kairan import mbox` of the same file; the whole archive downloaded
(streamed) and `kairan export --mbox`; and Python's http.server sending
the same mbox as a static file (the loopback baseline of a download) and
its mailbox module splitting it (what converters do).  Peak RSS of the
web server (VmHWM of a fresh server for each case) shows the upload is
not held in memory and the download is not built in memory.
Prints tab-separated RESULT lines; run by hand, not by CI.
    python3 tests/bench/web_import.py [path/to/kairan]   env: POSTS=20000
"""
import http.client
import http.server
import mailbox
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

K = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "build", "kairan"))
POSTS = int(os.environ.get("POSTS", "20000"))
tmp = tempfile.mkdtemp(prefix="kairan-bench-webimport-")
servers = []        # every kairan web started, stopped at the end whatever happens


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def result(name, n, secs, extra=""):
    print(f"RESULT\t{name}\t{n}\t{secs:.2f} s\t{n / max(secs, 0.001):.0f}/s\t{extra}", flush=True)


def kairan(home, *args, stdin=None):
    return subprocess.run([K, "--home", home, *args], input=stdin, capture_output=True, check=True)


def rss_peak_cmd(cmd):
    t0 = time.perf_counter()
    r = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd], capture_output=True, check=True)
    secs = time.perf_counter() - t0
    return secs, int(r.stderr.decode().strip().splitlines()[-1]) // 1024, r.stdout


class Web:
    def __init__(self, home):
        self.port = free_port()
        self.proc = subprocess.Popen([K, "--home", home, "web", "--listen", f"127.0.0.1:{self.port}"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        self.cookies = {}
        servers.append(self)

    def hwm(self):
        for line in open(f"/proc/{self.proc.pid}/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) // 1024
        return 0

    def req(self, method, path, body=None, headers=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
        h = dict(headers or {})
        if self.cookies:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        for k, v in r.getheaders():
            if k.lower() == "set-cookie":
                name, _, val = v.split(";", 1)[0].partition("=")
                self.cookies[name] = val
        return r, c

    def login(self):
        tok = self.csrf("/login")
        body = f"list=bench&address=owner%40example.test&password=bench-pass-1&csrf={tok}"
        r, c = self.req("POST", "/login", body, {"Content-Type": "application/x-www-form-urlencoded"})
        r.read()
        c.close()

    def csrf(self, path):
        r, c = self.req("GET", path)
        m = re.search(rb'name="csrf" value="([0-9a-f]+)"', r.read())
        c.close()
        return m.group(1).decode()

    def sample(self):
        """Sample RssAnon (heap and stacks: what the process holds) and
        RssFile (mapped files, page cache the kernel may take back) until
        done(); peaks in MB."""
        self.peaks = {"RssAnon": 0, "RssFile": 0}
        self._stop = threading.Event()

        def loop():
            while not self._stop.is_set():
                try:
                    for line in open(f"/proc/{self.proc.pid}/status"):
                        k = line.split(":")[0]
                        if k in self.peaks:
                            self.peaks[k] = max(self.peaks[k], int(line.split()[1]) // 1024)
                except OSError:
                    pass
                time.sleep(0.02)
        self._th = threading.Thread(target=loop, daemon=True)
        self._th.start()

    def done(self):
        self._stop.set()
        self._th.join()
        return f"heap (RssAnon) peak {self.peaks['RssAnon']} MB, mapped files (RssFile) peak {self.peaks['RssFile']} MB"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


try:
    mbox = os.path.join(tmp, "big.mbox")
    body = "The quick brown fox jumps over the lazy dog. 0123456789 abcdefghij\n" * 12
    with open(mbox, "w") as f:
        for i in range(POSTS):
            day, sec = divmod(i, 86400)
            f.write(f"From user{i % 500}@example.test Mon Nov 23 {sec // 3600 % 24:02d}:{sec // 60 % 60:02d}:{sec % 60:02d} 2026\n"
                    f"From: User {i % 500} <user{i % 500}@example.test>\nTo: bench@example.test\nSubject: post {i}\n"
                    f"Message-ID: <p{i}@example.test>\n"
                    f"Date: {1 + day % 28:02d} Nov 2026 {sec // 3600 % 24:02d}:{sec // 60 % 60:02d}:{sec % 60:02d} +0000\n"
                    + (f"In-Reply-To: <p{i - 1}@example.test>\n" if i % 3 else "") + f"\n{body}>From quoted\n\n")
    size = os.path.getsize(mbox)
    print(f"# mbox: {POSTS} posts, {size / 1048576:.1f} MB; kairan {K}", flush=True)

    homes = {}
    for name in ("web", "cli"):
        h = os.path.join(tmp, name)
        kairan(h, "init", "--domain", "lists.example.test")
        pw = os.path.join(tmp, "pw")
        open(pw, "w").write("bench-pass-1\n")
        kairan(h, "newlist", "bench", "--owner", "owner@example.test", "--password-file", pw)
        open(os.path.join(h, "kairan.conf"), "a").write("")
        homes[name] = h
    conf = os.path.join(homes["web"], "kairan.conf")
    text = open(conf).read().replace("[global]\n", "[global]\nweb_max_upload=1073741824\n", 1)
    open(conf, "w").write(text)

    # ---- the command line (first: on ext4 the first run after many files
    # were removed pays for inode allocation near recently deleted ones)
    secs, rss, _ = rss_peak_cmd([K, "--home", homes["cli"], "import", "mbox", mbox, "--as", "bench"])
    result("kairan import mbox (command line, indexed)", POSTS, secs, f"peak RSS {rss} MB")

    # ---- upload through kairan web
    w = Web(homes["web"])
    w.login()
    tok = w.csrf("/admin/bench/import")
    base_hwm = w.hwm()
    b = "bench-boundary-7f3a"
    head = (f"--{b}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{tok}\r\n--{b}\r\n"
            f"Content-Disposition: form-data; name=\"mbox\"; filename=\"big.mbox\"\r\n"
            f"Content-Type: application/mbox\r\n\r\n").encode()
    tail = f"\r\n--{b}--\r\n".encode()

    def pieces():
        yield head
        with open(mbox, "rb") as f:
            while True:
                chunk = f.read(65536)
                if not chunk:
                    break
                yield chunk
        yield tail
    w.sample()
    t0 = time.perf_counter()
    r, c = w.req("POST", "/admin/bench/import", pieces(),
                 {"Content-Type": f"multipart/form-data; boundary={b}",
                  "Content-Length": str(len(head) + size + len(tail))})
    page = r.read().decode(errors="replace")
    c.close()
    secs = time.perf_counter() - t0
    ok = f"{POSTS} post(s) added" in page
    result("web upload (kairan web, mbox to archive, indexed)", POSTS, secs,
           f"web server: {w.done()}, idle RSS {base_hwm} MB{'' if ok else '  FAILED: ' + page[-300:]}")
    w.stop()

    # ---- download
    w = Web(homes["web"])
    w.login()
    base_hwm = w.hwm()
    w.sample()
    t0 = time.perf_counter()
    r, c = w.req("GET", "/admin/bench/archive.mbox")
    got = 0
    first = None
    while True:
        chunk = r.read(65536)
        if first is None:
            first = time.perf_counter() - t0
        if not chunk:
            break
        got += len(chunk)
    c.close()
    secs = time.perf_counter() - t0
    result("web download archive.mbox (streamed)", POSTS, secs,
           f"{got / 1048576 / secs:.0f} MB/s, first byte {first * 1000:.0f} ms, web server: {w.done()}, idle RSS {base_hwm} MB")
    w.stop()
    secs, rss, out = rss_peak_cmd([K, "--home", homes["web"], "export", "bench", "--mbox"])
    result("kairan export --mbox (command line)", POSTS, secs, f"{len(out) / 1048576 / secs:.0f} MB/s, peak RSS {rss} MB")
    print(f"# download == export: {got == len(out)} ({got} bytes)", flush=True)

    # ---- baselines: a static file over loopback HTTP, Python's mailbox split
    exp = os.path.join(tmp, "export.mbox")
    open(exp, "wb").write(out)
    port = free_port()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *a):
            pass
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", port),
                                          lambda *a, **k: Quiet(*a, directory=tmp, **k))
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    t0 = time.perf_counter()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    c.request("GET", "/export.mbox")
    r = c.getresponse()
    n = 0
    while True:
        chunk = r.read(65536)
        if not chunk:
            break
        n += len(chunk)
    c.close()
    secs = time.perf_counter() - t0
    srv.shutdown()
    result("baseline: Python http.server, the same mbox as a static file", POSTS, secs, f"{n / 1048576 / secs:.0f} MB/s")
    t0 = time.perf_counter()
    outdir = os.path.join(tmp, "split")
    os.makedirs(outdir)
    for i, m in enumerate(mailbox.mbox(mbox)):
        with open(os.path.join(outdir, str(i + 1)), "wb") as f:
            f.write(m.as_bytes())
    result("peer: Python mailbox split into one file a post (converters, Mailman's arch)", POSTS,
           time.perf_counter() - t0, "no index, no database")
finally:
    for w in servers:
        w.stop()
    if not os.environ.get("BENCH_KEEP"):
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        print("# kept", tmp)
