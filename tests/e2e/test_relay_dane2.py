"""test_relay_dane2.py - what issue #18 left open in DANE and TLS-RPT.
Everything real and local, as in test_relay_dane.py: unbound validates a
zone dane.test signed here with ldns-signzone (insecure.test unsigned),
one Postfix on 127.0.0.1-3 is every MX host (relaying into smtp-sink), a
Python HTTPS server with a certificate of a test CA serves MTA-STS
policies.
Checked:
  - RFC 7672 2.2.3, an MX host that is a secure CNAME: its TLSA records
    are asked at the CNAME target first and used (a matching certificate
    is delivered, a certificate matching the target's records is not,
    although the alias has no records at all); with none at the target
    the alias' records are used, and for DANE-TA the certificate may
    name the target (both names are reference identifiers); a chain with
    an insecure step gets no DANE (the records of the alias, which the
    certificate does not match, are not applied);
  - RFC 8460 4.3.2.2, an _mta-sts TXT record whose policy cannot be used
    (connection refused, 404, malformed, certificate not for the name):
    the mail is delivered as without a policy and the session recorded
    as sts-policy-fetch-error / sts-policy-invalid / sts-webpki-invalid;
  - the next day's report names sts-policy-fetch-error, and it is
    DKIM-signed with the instance's key (kairan dkim-keygen), checked by
    dkimpy and by opendkim-testmsg with the key served by dnsmasq."""
import email
import email.policy
import gzip
import hashlib
import json
import re
import shutil
import smtplib
import sqlite3
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from kt import *

t = Tap()
if os.geteuid() != 0:
    t.skip_all("needs root to run a private Postfix")
for prog in ("postfix", "unbound", "ldns-signzone", "ldns-keygen", "smtp-sink"):
    if not shutil.which(prog) and not os.path.exists(f"/usr/sbin/{prog}"):
        t.skip_all(f"{prog} not installed (tests/install-deps.sh)")

T = tempfile.mkdtemp(prefix="kairan-dane2-")
os.chmod(T, 0o755)


def sh(*args, **kw):
    return subprocess.run(args, check=True, capture_output=True, cwd=T, **kw).stdout


sh("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
   "-subj", "/CN=kairan DANE2 test CA", "-keyout", "ca.key", "-out", "ca.pem")


def selfsigned(name, cn):
    sh("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
       "-subj", f"/CN={cn}", "-keyout", f"{name}.key", "-out", f"{name}.pem")


def ca_signed(name, sans, chain=True):
    with open(os.path.join(T, f"{name}.ext"), "w") as f:
        f.write("subjectAltName=" + ",".join(f"DNS:{s}" for s in sans) + "\n")
    sh("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", f"/CN={sans[0]}",
       "-keyout", f"{name}.key", "-out", f"{name}.csr")
    sh("openssl", "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
       "-days", "2", "-extfile", f"{name}.ext", "-out", f"{name}.leaf.pem")
    with open(os.path.join(T, f"{name}.pem"), "w") as f:
        f.write(open(os.path.join(T, f"{name}.leaf.pem")).read() + (open(os.path.join(T, "ca.pem")).read()
                                                                    if chain else ""))


def spki_sha256(name):
    pub = sh("openssl", "x509", "-in", f"{name}.pem", "-pubkey", "-noout")
    return hashlib.sha256(sh("openssl", "pkey", "-pubin", "-outform", "DER", input=pub)).hexdigest()


selfsigned("good", "mx-real.dane.test")
selfsigned("other", "mx-other.dane.test")
ca_signed("tat", ["mx-tatarget.dane.test"])               # names the CNAME target only
ca_signed("web", ["mta-sts.sts404.dane.test", "mta-sts.stsinvalid.dane.test"], chain=False)
GOOD = spki_sha256("good")
CA = hashlib.sha256(sh("openssl", "x509", "-in", "ca.pem", "-outform", "DER")).hexdigest()

# ---- the MX hosts: one Postfix on three loopback addresses ----
pf_port = free_port()
sink = Sink()
for d in ("conf", "queue", "data"):
    os.mkdir(os.path.join(T, d))
shutil.chown(os.path.join(T, "data"), "postfix")
MX = {"127.0.0.1": ("good", "good"), "127.0.0.2": ("other", "other"), "127.0.0.3": ("tat", "tat")}
with open("/etc/postfix/master.cf") as f:
    master = re.sub(r"(?m)^smtp\s+inet\s.*$", "", f.read())
for addr, (host, cert) in MX.items():
    master += (f"\n{addr}:{pf_port} inet n - n - - smtpd -o syslog_name=postfix-{host}"
               f" -o smtpd_tls_security_level=may -o smtpd_tls_chain_files={T}/{cert}.key,{T}/{cert}.pem\n")
open(os.path.join(T, "conf", "master.cf"), "w").write(master)
open(os.path.join(T, "conf", "main.cf"), "w").write(f"""compatibility_level = 3.6
queue_directory = {T}/queue
data_directory = {T}/data
myhostname = mx.dane.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost = [127.0.0.1]:{sink.port}
maillog_file = {T}/maillog
maillog_file_prefixes = /var, {T}
smtputf8_enable = no
smtpd_tls_loglevel = 1
""")

# ---- DNS ----
P = f"_{pf_port}._tcp"
zone = f"""$ORIGIN dane.test.
$TTL 300
@ IN SOA ns.dane.test. hostmaster.dane.test. 1 3600 600 86400 300
@ IN NS ns.dane.test.
ns IN A 127.0.0.1
mx-real IN A 127.0.0.1
mx-other IN A 127.0.0.2
mx-tatarget IN A 127.0.0.3
; A: a secure CNAME, the TLSA records at its target (which the certificate matches)
cn IN MX 10 mx-alias.dane.test.
mx-alias IN CNAME mx-real.dane.test.
{P}.mx-real IN TLSA 3 1 1 {GOOD}
; B: the same, the target's records do not match its certificate: not sent
cnbad IN MX 10 mx-alias2.dane.test.
mx-alias2 IN CNAME mx-other.dane.test.
{P}.mx-other IN TLSA 3 1 1 {GOOD}
; C: no records at the target: the alias' own DANE-TA record, the certificate names the target
cnorig IN MX 10 mx-taalias.dane.test.
mx-taalias IN CNAME mx-tatarget.dane.test.
{P}.mx-taalias IN TLSA 2 0 1 {CA}
; D: a chain with an insecure step: no DANE (the alias' record would not match)
cnins IN MX 10 mx-ins.dane.test.
mx-ins IN CNAME mx-hop.dane.test.
mx-hop IN CNAME mx.insecure.test.
{P}.mx-ins IN TLSA 3 1 1 {GOOD}
; MTA-STS published, its policy unusable
mx-plain IN A 127.0.0.2
"""
STS = {"stsrefused": "127.0.0.9", "sts404": "127.0.0.1", "stsinvalid": "127.0.0.1", "stswebpki": "127.0.0.1"}
for d, addr in STS.items():
    zone += (f"{d} IN MX 10 mx-plain.dane.test.\n_mta-sts.{d} IN TXT \"v=STSv1; id=20261202\"\n"
             f"mta-sts.{d} IN A {addr}\n")
zone += '_smtp._tls.sts404 IN TXT "v=TLSRPTv1; rua=mailto:tls-reports@reports.example"\n'
open(os.path.join(T, "dane.test.zone"), "w").write(zone)
ksk = sh("ldns-keygen", "-a", "ECDSAP256SHA256", "-k", "dane.test").decode().strip()
zsk = sh("ldns-keygen", "-a", "ECDSAP256SHA256", "dane.test").decode().strip()
sh("ldns-signzone", "-n", "dane.test.zone", ksk, zsk)
open(os.path.join(T, "insecure.test.zone"), "w").write("""$ORIGIN insecure.test.
$TTL 300
@ IN SOA ns.insecure.test. hostmaster.insecure.test. 1 3600 600 86400 300
@ IN NS ns.insecure.test.
ns IN A 127.0.0.1
mx IN A 127.0.0.2
""")
dns_port = free_port()
open(os.path.join(T, "unbound.conf"), "w").write(f"""server:
  interface: 127.0.0.1
  port: {dns_port}
  do-not-query-localhost: no
  username: ""
  chroot: ""
  directory: "{T}"
  pidfile: ""
  use-syslog: no
  logfile: "{T}/unbound.log"
  verbosity: 1
  access-control: 127.0.0.0/8 allow
  module-config: "validator iterator"
  trust-anchor-file: "{T}/{ksk}.ds"
  local-zone: "test." nodefault
  cache-max-ttl: 0
auth-zone:
  name: "dane.test"
  zonefile: "{T}/dane.test.zone.signed"
  for-upstream: yes
  for-downstream: no
  fallback-enabled: no
auth-zone:
  name: "insecure.test"
  zonefile: "{T}/insecure.test.zone"
  for-upstream: yes
  for-downstream: no
  fallback-enabled: no
""")
unbound = subprocess.Popen([shutil.which("unbound") or "/usr/sbin/unbound", "-d", "-c",
                            os.path.join(T, "unbound.conf")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# ---- the MTA-STS web server (127.0.0.1 only: 127.0.0.9 refuses) ----
class Policy(BaseHTTPRequestHandler):
    def do_GET(self):
        host = (self.headers.get("Host") or "").split(":")[0]
        body = b"this is not an STSv1 policy\n" if host.startswith("mta-sts.stsinvalid.") else None
        if body is None:
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


web_port = free_port()
httpd = ThreadingHTTPServer(("127.0.0.1", web_port), Policy)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(os.path.join(T, "web.pem"), os.path.join(T, "web.key"))
httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
threading.Thread(target=httpd.serve_forever, daemon=True).start()

inst = Instance()
r = inst.run("dkim-keygen", DOMAIN, "--selector", "rpt1", "--enable")
t.ok(r.returncode == 0, "dkim-keygen made the instance's key", r.stderr)
dkim_name, dkim_value = dkim_record(r.stdout)
relay = None
started = False
maillog = lambda: open(os.path.join(T, "maillog")).read() if os.path.exists(os.path.join(T, "maillog")) else ""
pf = lambda *a: subprocess.run(["postfix", "-c", os.path.join(T, "conf")] + list(a), capture_output=True, timeout=60)
try:
    t.ok(wait_port(dns_port, timeout=10), "unbound started")
    for args in (["set-permissions"], ["check"], ["start"]):
        r = pf(*args)
        if args == ["start"]:
            started = r.returncode == 0
    t.ok(started and all(wait_port(pf_port, host=a) for a in MX), "Postfix listens on 127.0.0.1-3", r.stderr)
    relay = Relay(inst, conf={"dns_resolver": f"127.0.0.1:{dns_port}", "mx_port": str(pf_port),
                              "tls_verify": "dane", "tls_rpt": "yes", "retry_min": "1h",
                              "tls_ca_file": os.path.join(T, "ca.pem"), "mta_sts_port": str(web_port),
                              "smtp_connect_timeout": "3", "smtp_connection_cache_time": "0",
                              "routes": f"reports.example=[127.0.0.1]:{sink.port}"})
    rcpts = ["a@cn.dane.test", "b@cnbad.dane.test", "c@cnorig.dane.test", "d@cnins.dane.test"] + \
        [f"s@{d}.dane.test" for d in STS]
    s = smtplib.SMTP("127.0.0.1", relay.port, timeout=30)
    for rcpt in rcpts:
        t.eq(s.sendmail("sender@example.org", [rcpt], make_msg(subject=f"to {rcpt}", to=rcpt)), {},
             f"mail for {rcpt} accepted")
    s.quit()
    got = lambda: {x.strip("<>") for x in sink.recipients()}
    want = set(rcpts) - {"b@cnbad.dane.test"}
    t.ok(wait_for(lambda: want <= got(), 40), "delivered: every mail but the one to cnbad", inst.log()[-3000:])
    t.ok(wait_for(lambda: re.search(r"to=<b@cnbad\.dane\.test>.*status=deferred", inst.log()), 20),
         "the mail to cnbad was tried and deferred")
    log, ml = inst.log(), maillog()
    # A: the target's records
    t.ok("dane: mx-alias.dane.test is a DNSSEC-validated CNAME for mx-real.dane.test: TLSA asked there first" in log
         and f"dane: {P}.mx-real.dane.test: 1 TLSA record, 1 usable: TLS is mandatory" in log,
         "A: a secure CNAME: the TLSA records of its target were found and used", log[-3000:])
    t.ok(re.search(r"to=<a@cn\.dane\.test>, relay=mx-alias\.dane\.test", log) is not None and
         re.search(r"postfix-good/smtpd\[\d+\]: \S+ TLS connection established", ml) is not None,
         "A: delivered over TLS to the CNAME'd host", ml[-1500:])
    # B: not sent, never in clear
    t.ok(re.search(r"to=<b@cnbad\.dane\.test>.*status=deferred \(4\.7\.5 TLS with mx-alias2\.dane\.test.*"
                   r"not verified by DANE: the certificate matches none of the 1 usable TLSA records", log)
         is not None, "B: the target's records do not match the certificate: deferred 4.7.5 (the alias has none)",
         log[-3000:])
    t.ok("b@cnbad.dane.test" not in ml and "b@cnbad.dane.test" not in got(), "B: Postfix never got its RCPT")
    # C: fallback to the original name, both names as reference identifiers
    t.ok("mx-taalias.dane.test is a DNSSEC-validated CNAME for mx-tatarget.dane.test" in log and
         f"dane: {P}.mx-taalias.dane.test: 1 TLSA record, 1 usable" in log and
         f"{P}.mx-tatarget.dane.test: " not in log,
         "C: no records at the target: the alias' records used", log[-3000:])
    t.ok(re.search(r"to=<c@cnorig\.dane\.test>, relay=mx-taalias\.dane\.test.*status=sent", log) is not None,
         "C: DANE-TA with a certificate naming only the CNAME target: delivered (target is a reference identifier)",
         log[-3000:])
    # D: an insecure step
    t.ok("dane: mx-ins.dane.test: address records not DNSSEC-validated: DANE does not apply" in log and
         f"{P}.mx-ins.dane.test" not in log,
         "D: a chain with an insecure step: DANE does not apply, no TLSA asked", log[-3000:])
    t.ok(re.search(r"to=<d@cnins\.dane\.test>.*status=sent", log) is not None,
         "D: delivered opportunistically although the alias' record would not match", log[-3000:])
    # MTA-STS published but unusable: delivered as without a policy, recorded
    for d in STS:
        t.ok(re.search(rf"mta-sts: {d}\.dane\.test publishes a policy \(id 20261202\) but it cannot be used", log)
             is not None, f"{d}: the unusable policy is logged")
    db = sqlite3.connect(inst.path("kairan.db"))
    rows = {d: r for d, r in db.execute(
        "SELECT domain, group_concat(DISTINCT result) FROM tlsrpt_sessions WHERE policy_type = 'sts'"
        " GROUP BY domain")}
    db.close()
    t.eq(rows, {"stsrefused.dane.test": "sts-policy-fetch-error", "sts404.dane.test": "sts-policy-fetch-error",
                "stsinvalid.dane.test": "sts-policy-invalid", "stswebpki.dane.test": "sts-webpki-invalid"},
         "TLS-RPT result types: refused and 404 fetch-error, malformed invalid, wrong certificate webpki-invalid")
    relay.stop()
    relay = None

    # ---- the next day: sts404's report, DKIM-signed ----
    db = sqlite3.connect(inst.path("kairan.db"))
    db.execute("UPDATE tlsrpt_sessions SET day = date(day, '-1 day')")
    db.commit()
    db.close()
    relay = Relay(inst)
    isrep = lambda rs: any("tls-reports@reports.example" in x for x in rs)
    t.ok(wait_for(lambda: any(isrep(rs) for _, rs, _ in sink.transactions()), 30), "the report reached the rua",
         inst.log()[-2000:])
    reports = [m for _, rs, m in sink.transactions() if isrep(rs)]
    t.eq(len(reports), 1, "one report (only sts404 publishes _smtp._tls)")
    raw = reports[0] if reports else b""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    t.eq(str(msg["TLS-Report-Domain"]), "sts404.dane.test", "the report is sts404's")
    parts = [p for p in msg.iter_parts() if p.get_content_type() == "application/tlsrpt+gzip"] if reports else []
    rep = json.loads(gzip.decompress(parts[0].get_content())) if parts else {}
    pols = rep.get("policies", [])
    sts = [p for p in pols if p["policy"]["policy-type"] == "sts"]
    t.eq(len(sts), 1, "one policy of type sts")
    p = sts[0] if sts else {"policy": {}, "summary": {}}
    t.eq(p["policy"].get("policy-domain"), "sts404.dane.test", "its policy-domain")
    t.eq(p["summary"].get("total-failure-session-count"), 1, "one failed session")
    fd = p.get("failure-details", [{}])
    t.eq([(f.get("result-type"), f.get("receiving-mx-hostname")) for f in fd],
         [("sts-policy-fetch-error", "mta-sts.sts404.dane.test")], "failure-details: sts-policy-fetch-error")
    t.ok("404" in fd[0].get("failure-reason-code", ""), "the reason names the 404", fd)
    t.ok(re.search(rb"(?mi)^DKIM-Signature:.*\bd=" + re.escape(DOMAIN.encode()) + rb";", raw) is not None
         or re.search(rb"(?mi)^DKIM-Signature:(.|\n\s)*\bd=" + re.escape(DOMAIN.encode()), raw) is not None,
         "the report carries a DKIM-Signature of the instance's domain", raw[:600])
    records = {dkim_name: dkim_value}
    v = dkimpy_verify(raw, records)
    if v is None:
        t.skip("dkimpy verifies the report", "dkimpy not installed")
    else:
        t.ok(v, "dkimpy verifies the report's signature")
    v = opendkim_verify(raw, records)
    if v is None:
        t.skip("opendkim-testmsg verifies the report", "opendkim-testmsg with dnsmasq not available")
    else:
        t.eq(v, 0, "opendkim-testmsg verifies it, the key served by dnsmasq")
    relay.stop()
    relay = None
    err = open(inst.path("relay.stderr"), errors="replace").read()
    t.ok("Sanitizer" not in err and "runtime error" not in err, "the relay's stderr has no sanitizer report",
         err[-2000:])
finally:
    if relay:
        relay.stop()
    if started:
        pf("stop")
    unbound.terminate()
    unbound.wait()
    httpd.shutdown()
    sink.cleanup()
    if os.environ.get("KEEP_DANE"):
        print("# kept", T)
    else:
        shutil.rmtree(T, ignore_errors=True)
t.done()
