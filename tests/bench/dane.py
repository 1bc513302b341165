#!/usr/bin/env python3
"""dane.py - what outbound DANE costs: N single-recipient messages to one
destination, from the first SMTP command of smtp-source until the sender
has logged every delivery (status=sent), with the receiving MX a private
Postfix (STARTTLS, a self-signed certificate, mail discarded).

Cases, each with the sender's connection cache on and off (off: one TLS
session, and for DANE one TLSA lookup, per message):
  kairan-none   kairan relay, tls_verify = none (opportunistic STARTTLS)
  kairan-dane   kairan relay, tls_verify = dane: MX + TLSA through a local
                unbound validating a zone signed here (ldns-signzone),
                OpenSSL's DANE-EE matching
  kairan-dane+rpt  the same with tls_rpt = yes (a kairan.db write a session)
  kairan-dane-cname  tls_verify = dane, the MX host a secure CNAME whose
                TLSA records are at its target (RFC 7672 2.2.3)
  postfix-may   Postfix 3.7 as the sender, smtp_tls_security_level = may
  postfix-fp    Postfix, smtp_tls_security_level = fingerprint (the
                certificate pinned: the same check as DANE-EE 3 0 1, without
                DNS: Postfix's own DANE needs its resolver on port 53, which
                this machine's /etc/resolv.conf does not give us)
Root only (private Postfix instances, ../shared/recipes/postfix-loopback.md).
usage: tests/bench/dane.py [N]     (default 500; env KAIRAN=build/kairan RUNS=3)
Prints a RESULT line per case: messages/s (median of RUNS).  Not run by CI."""
import hashlib
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
KAIRAN = os.path.abspath(os.environ.get("KAIRAN", os.path.join(HERE, "../../build/kairan")))
RUNS = int(os.environ.get("RUNS", "3"))
N = int(sys.argv[1]) if len(sys.argv) > 1 else 500
SOURCE = "/usr/sbin/smtp-source"

if os.geteuid() != 0:
    sys.exit("dane.py: needs root (private Postfix instances)")
for prog in ("postfix", "unbound", "ldns-signzone", "smtp-source"):
    if not shutil.which(prog) and not os.path.exists(f"/usr/sbin/{prog}"):
        sys.exit(f"dane.py: {prog} not installed")

T = tempfile.mkdtemp(prefix="kairan-bench-dane-")
os.chmod(T, 0o755)
procs = []
postfixes = []


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=15):
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def sh(*args, **kw):
    return subprocess.run(args, check=True, capture_output=True, cwd=T, **kw).stdout


def postfix(name, port, main_extra, master_extra=""):
    d = os.path.join(T, name)
    for sub in ("conf", "queue", "data"):
        os.makedirs(os.path.join(d, sub))
    shutil.chown(os.path.join(d, "data"), "postfix")
    with open("/etc/postfix/master.cf") as f:
        master = re.sub(r"(?m)^smtp\s+inet\s.*$", "", f.read())
    master += f"\n127.0.0.1:{port} inet n - n - - smtpd -o syslog_name={name}{master_extra}\n"
    master += "tlsproxy unix - - n - 0 tlsproxy\n"          # smtp_tls_connection_reuse needs it
    open(os.path.join(d, "conf", "master.cf"), "w").write(master)
    open(os.path.join(d, "conf", "main.cf"), "w").write(f"""compatibility_level = 3.6
queue_directory = {d}/queue
data_directory = {d}/data
myhostname = {name}.bench.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
maillog_file = {d}/maillog
maillog_file_prefixes = /var, {T}
smtputf8_enable = no
{main_extra}
""")
    conf = os.path.join(d, "conf")
    for a in (["set-permissions"], ["start"]):
        subprocess.run(["postfix", "-c", conf] + a, capture_output=True, timeout=60)
    postfixes.append(conf)
    if not wait_port(port):
        sys.exit(f"dane.py: Postfix {name} did not start")
    return os.path.join(d, "maillog")


def count_sent(path):
    try:
        with open(path, errors="replace") as f:
            return f.read().count("status=sent")
    except FileNotFoundError:
        return 0


def timed(port, logpath, rcpt="rcpt@bench.dane.test"):
    before = count_sent(logpath)
    t0 = time.time()
    subprocess.run([SOURCE, "-m", str(N), "-s", "4", "-l", "1024", "-f", "sender@example.org",
                    "-t", rcpt, f"127.0.0.1:{port}"], check=True, capture_output=True)
    while count_sent(logpath) < before + N:
        if time.time() - t0 > 120:
            sys.exit(f"dane.py: only {count_sent(logpath) - before} of {N} delivered")
        time.sleep(0.02)
    return N / (time.time() - t0)


try:
    sh("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
       "-subj", "/CN=mx.bench.dane.test", "-keyout", "mx.key", "-out", "mx.pem")
    der = sh("openssl", "x509", "-in", "mx.pem", "-outform", "DER")
    spki = sh("openssl", "pkey", "-pubin", "-outform", "DER", input=sh("openssl", "x509", "-in", "mx.pem",
                                                                           "-pubkey", "-noout"))
    fp = ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())
    rport = free_port()
    recv_log = postfix("recv", rport, "default_transport = discard\nrelay_transport = discard\n",
                       f" -o smtpd_tls_security_level=may -o smtpd_tls_chain_files={T}/mx.key,{T}/mx.pem")

    zone = f"""$ORIGIN dane.test.
$TTL 300
@ IN SOA ns.dane.test. hostmaster.dane.test. 1 3600 600 86400 300
@ IN NS ns.dane.test.
ns IN A 127.0.0.1
bench IN MX 10 mx.bench.dane.test.
mx.bench IN A 127.0.0.1
cname IN MX 10 mx-alias.bench.dane.test.
mx-alias.bench IN CNAME mx.bench.dane.test.
_{rport}._tcp.mx.bench IN TLSA 3 1 1 {hashlib.sha256(spki).hexdigest()}
"""
    open(os.path.join(T, "dane.test.zone"), "w").write(zone)
    ksk = sh("ldns-keygen", "-a", "ECDSAP256SHA256", "-k", "dane.test").decode().strip()
    zsk = sh("ldns-keygen", "-a", "ECDSAP256SHA256", "dane.test").decode().strip()
    sh("ldns-signzone", "-n", "dane.test.zone", ksk, zsk)
    dport = free_port()
    open(os.path.join(T, "unbound.conf"), "w").write(f"""server:
  interface: 127.0.0.1
  port: {dport}
  do-not-query-localhost: no
  username: ""
  chroot: ""
  directory: "{T}"
  pidfile: ""
  use-syslog: no
  logfile: "{T}/unbound.log"
  access-control: 127.0.0.0/8 allow
  module-config: "validator iterator"
  trust-anchor-file: "{T}/{ksk}.ds"
  local-zone: "test." nodefault
auth-zone:
  name: "dane.test"
  zonefile: "{T}/dane.test.zone.signed"
  for-upstream: yes
  for-downstream: no
  fallback-enabled: no
""")
    procs.append(subprocess.Popen([shutil.which("unbound") or "/usr/sbin/unbound", "-d", "-c",
                                   os.path.join(T, "unbound.conf")]))
    if not wait_port(dport):
        pass                     # unbound answers UDP and TCP; TCP is up with it

    results = {}
    # Postfix as the sender
    for name, level in (("postfix-may", "may"), ("postfix-fp", "fingerprint")):
        for cache in ("on", "off"):
            sport = free_port()
            extra = (f"relayhost = [127.0.0.1]:{rport}\nsmtp_tls_security_level = {level}\n"
                     f"smtp_tls_fingerprint_digest = sha256\nsmtp_tls_fingerprint_cert_match = {fp}\n"
                     "smtp_tls_loglevel = 0\n")
            if cache == "off":
                extra += "smtp_connection_cache_on_demand = no\nsmtp_tls_connection_reuse = no\n"
            else:
                extra += "smtp_tls_connection_reuse = yes\n"
            log = postfix(f"{name}-{cache}", sport, extra)
            results[(name, cache)] = [timed(sport, log) for _ in range(RUNS)]
            subprocess.run(["postfix", "-c", postfixes[-1], "stop"], capture_output=True, timeout=60)
            postfixes.pop()
    # kairan relay as the sender
    for name, mode in (("kairan-none", "none"), ("kairan-dane", "dane"), ("kairan-dane+rpt", "dane"),
                       ("kairan-dane-cname", "dane")):
        for cache in ("on", "off"):
            home = os.path.join(T, f"{name}-{cache}")
            subprocess.run([KAIRAN, "--home", home, "init", "--domain", "lists.bench.test"], check=True,
                           capture_output=True)
            conf = os.path.join(home, "kairan.conf")
            keys = {"dns_resolver": f"127.0.0.1:{dport}", "mx_port": str(rport), "tls_verify": mode,
                    "smtp_connection_cache_time": "2" if cache == "on" else "0",
                    "tls_rpt": "yes" if name.endswith("+rpt") else "no"}
            lines = [ln for ln in open(conf).read().split("\n") if ln.split("=", 1)[0].strip() not in keys]
            at = lines.index("[global]") + 1
            lines[at:at] = [f"{k}={v}" for k, v in keys.items()]
            open(conf, "w").write("\n".join(lines))
            kport = free_port()
            env = dict(os.environ)
            env.pop("KAIRAN_HOME", None)
            p = subprocess.Popen([KAIRAN, "--home", home, "relay", "--listen", f"127.0.0.1:{kport}"], env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            procs.append(p)
            if not wait_port(kport):
                sys.exit("dane.py: kairan relay did not start")
            rcpt = "rcpt@cname.dane.test" if name.endswith("-cname") else "rcpt@bench.dane.test"
            results[(name, cache)] = [timed(kport, os.path.join(home, "log", "kairan.log"), rcpt)
                                      for _ in range(RUNS)]
            p.terminate()
            p.wait()
            procs.remove(p)
    for (name, cache), rates in results.items():
        print(f"RESULT\t{name}\tcache={cache}\tN={N}\t{statistics.median(rates):.0f} msg/s\t"
              f"(runs: {' '.join(f'{r:.0f}' for r in rates)})")
finally:
    for p in procs:
        p.terminate()
        p.wait()
    for conf in postfixes:
        subprocess.run(["postfix", "-c", conf, "stop"], capture_output=True, timeout=60)
    if not os.environ.get("BENCH_KEEP"):
        shutil.rmtree(T, ignore_errors=True)
