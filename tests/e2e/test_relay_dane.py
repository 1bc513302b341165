"""test_relay_dane.py - outbound DANE (RFC 7672) under tls_verify = dane,
and TLS-RPT (RFC 8460) under tls_rpt = yes.  Everything is real and local:
  - unbound on a loopback port is the validating resolver: it serves a
    zone dane.test signed in the test with ldns-signzone (auth-zone) and
    validates it against a trust anchor for that zone, so the AD bits
    kairan sees are unbound's; a zone insecure.test is served unsigned
    (answers without AD);
  - the MX hosts are one real Postfix (root only) listening on
    127.0.0.1..6 with certificates made by openssl here, relaying what
    it accepts into smtp-sink.
Checked: a certificate matching the DANE-EE TLSA record is delivered; a
DANE-TA record (the CA's certificate) too; a certificate matching no
record is deferred (4.7.5, nothing delivered, the reason in the log and
the queue); an MX without TLSA records is opportunistic; an MX with TLSA
records but no STARTTLS is deferred; a TLSA RRset whose signature does
not validate (bogus) is deferred although the certificate matches; TLSA
records in an unsigned zone (behind a CNAME) do not apply, nor do
secure TLSA records of a host whose address records are insecure (a
CNAME into the unsigned zone), nor any for the hosts of an insecure MX
RRset.  Then TLS-RPT: a destination
with one failed session (wrong certificate under DANE), a certificate
fixed by its operator and several successful sessions gets, the next
day, a gzip'd JSON report to the mailto: rua of its _smtp._tls record,
checked field by field against RFC 8460 and Postfix's own log."""
import email
import email.policy
import gzip
import hashlib
import json
import pwd
import re
import shutil
import smtplib
import sqlite3
import subprocess

from kt import *

t = Tap()
if os.geteuid() != 0:
    t.skip_all("needs root to run a private Postfix")
for prog in ("postfix", "unbound", "ldns-signzone", "ldns-keygen", "smtp-sink"):
    if not shutil.which(prog) and not os.path.exists(f"/usr/sbin/{prog}"):
        t.skip_all(f"{prog} not installed (tests/install-deps.sh)")

T = tempfile.mkdtemp(prefix="kairan-dane-")
os.chmod(T, 0o755)


def sh(*args, **kw):
    return subprocess.run(args, check=True, capture_output=True, cwd=T, **kw).stdout


# ---- certificates ----
sh("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
   "-subj", "/CN=kairan DANE test CA", "-keyout", "ca.key", "-out", "ca.pem")


def selfsigned(name, cn):
    sh("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
       "-subj", f"/CN={cn}", "-keyout", f"{name}.key", "-out", f"{name}.pem")


def ca_signed(name, cn):
    with open(os.path.join(T, f"{name}.ext"), "w") as f:
        f.write(f"subjectAltName=DNS:{cn}\n")
    sh("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", f"/CN={cn}",
       "-keyout", f"{name}.key", "-out", f"{name}.csr")
    sh("openssl", "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
       "-days", "2", "-extfile", f"{name}.ext", "-out", f"{name}.leaf.pem")
    with open(os.path.join(T, f"{name}.pem"), "w") as f:
        f.write(open(os.path.join(T, f"{name}.leaf.pem")).read() + open(os.path.join(T, "ca.pem")).read())


def spki_sha256(name):
    pub = sh("openssl", "x509", "-in", f"{name}.pem", "-pubkey", "-noout")
    der = sh("openssl", "pkey", "-pubin", "-outform", "DER", input=pub)
    return hashlib.sha256(der).hexdigest()


def cert_sha256(name):
    return hashlib.sha256(sh("openssl", "x509", "-in", f"{name}.pem", "-outform", "DER")).hexdigest()


selfsigned("good", "mx-good.dane.test")       # matches the DANE-EE records
selfsigned("other", "mx-bad.dane.test")       # matches nothing
ca_signed("ta", "mx-ta.dane.test")            # chain to the CA of the DANE-TA record
GOOD = spki_sha256("good")
CA = cert_sha256("ca")

# ---- the MX hosts: one Postfix on six loopback addresses ----
pf_port = free_port()
sink = Sink()
for d in ("conf", "queue", "data"):
    os.mkdir(os.path.join(T, d))
shutil.chown(os.path.join(T, "data"), "postfix")
MX = {   # address: (host, certificate or None for no STARTTLS)
    "127.0.0.1": ("mx-good", "good"),
    "127.0.0.2": ("mx-bad", "other"),
    "127.0.0.3": ("mx-notlsa", "other"),
    "127.0.0.4": ("mx-nostarttls", None),
    "127.0.0.5": ("mx-ta", "ta"),
    "127.0.0.6": ("mx-rpt", "other"),         # fixed to "good" during the TLS-RPT part
}


def write_master(certs):
    with open("/etc/postfix/master.cf") as f:
        master = re.sub(r"(?m)^smtp\s+inet\s.*$", "", f.read())
    for addr, (host, _) in MX.items():
        cert = certs.get(addr)
        tls = (f" -o smtpd_tls_security_level=may -o smtpd_tls_chain_files={T}/{cert}.key,{T}/{cert}.pem"
               if cert else " -o smtpd_tls_security_level=none")
        master += f"\n{addr}:{pf_port} inet n - n - - smtpd -o syslog_name=postfix-{host}{tls}\n"
    with open(os.path.join(T, "conf", "master.cf"), "w") as f:
        f.write(master)


write_master({a: c for a, (h, c) in MX.items()})
with open(os.path.join(T, "conf", "main.cf"), "w") as f:
    f.write(f"""compatibility_level = 3.6
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

# ---- DNS: dane.test signed, insecure.test not ----
zone = f"""$ORIGIN dane.test.
$TTL 300
@ IN SOA ns.dane.test. hostmaster.dane.test. 1 3600 600 86400 300
@ IN NS ns.dane.test.
ns IN A 127.0.0.1
"""
for addr, (host, _) in MX.items():
    zone += f"{host} IN A {addr}\n"
zone += "mx-bogus IN A 127.0.0.1\n"
for dom, host in (("good", "mx-good"), ("bad", "mx-bad"), ("notlsa", "mx-notlsa"),
                  ("nostarttls", "mx-nostarttls"), ("ta", "mx-ta"), ("rpt", "mx-rpt"), ("bogus", "mx-bogus")):
    zone += f"{dom} IN MX 10 {host}.dane.test.\n"
# a secure MX and address, the TLSA RRset behind a CNAME into the unsigned zone: insecure
zone += "insec IN MX 10 mx-insec.dane.test.\nmx-insec IN A 127.0.0.2\n"
zone += f"_{pf_port}._tcp.mx-insec IN CNAME tlsa.insecure.test.\n"
# a secure MX and TLSA RRset, but the host is a CNAME into the unsigned zone (RFC 7672 2.2.2)
zone += "cname IN MX 10 mx-cname.dane.test.\nmx-cname IN CNAME mx.insecure.test.\n"
zone += f"_{pf_port}._tcp.mx-cname IN TLSA 3 1 1 {GOOD}\n"
for host in ("mx-good", "mx-bad", "mx-nostarttls", "mx-rpt", "mx-bogus"):
    zone += f"_{pf_port}._tcp.{host} IN TLSA 3 1 1 {GOOD}\n"
zone += f"_{pf_port}._tcp.mx-ta IN TLSA 2 0 1 {CA}\n"
# only PKIX-EE records (unusable for SMTP): TLS mandatory, unauthenticated
zone += "pkix IN MX 10 mx-pkix.dane.test.\nmx-pkix IN A 127.0.0.3\n"
zone += f"_{pf_port}._tcp.mx-pkix IN TLSA 1 1 1 {GOOD}\n"
zone += '_smtp._tls.rpt IN TXT "v=TLSRPTv1; rua=mailto:tls-reports@reports.example"\n'
open(os.path.join(T, "dane.test.zone"), "w").write(zone)
ksk = sh("ldns-keygen", "-a", "ECDSAP256SHA256", "-k", "dane.test").decode().strip()
zsk = sh("ldns-keygen", "-a", "ECDSAP256SHA256", "dane.test").decode().strip()
sh("ldns-signzone", "-n", "dane.test.zone", ksk, zsk)
signed = open(os.path.join(T, "dane.test.zone.signed")).read()
# bogus: the TLSA record of mx-bogus changed after signing (its RRSIG no longer validates)
bogus = re.compile(rf"(?m)^(_{pf_port}\._tcp\.mx-bogus\.dane\.test\.\s.*TLSA\s+3 1 1 )([0-9a-f]+)")
t.ok(bogus.search(signed) is not None, "the signed zone has mx-bogus's TLSA record")
signed = bogus.sub(lambda m: m.group(1) + m.group(2)[:-2] + ("00" if not m.group(2).endswith("00") else "11"), signed)
open(os.path.join(T, "dane.test.zone.signed"), "w").write(signed)
open(os.path.join(T, "insecure.test.zone"), "w").write(f"""$ORIGIN insecure.test.
$TTL 300
@ IN SOA ns.insecure.test. hostmaster.insecure.test. 1 3600 600 86400 300
@ IN NS ns.insecure.test.
ns IN A 127.0.0.1
@ IN MX 10 mx.insecure.test.
mx IN A 127.0.0.2
_{pf_port}._tcp.mx IN TLSA 3 1 1 {GOOD}
tlsa IN TLSA 3 1 1 {GOOD}
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
  val-log-level: 2
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

inst = Instance()
relay = None
started = False
maillog = lambda: open(os.path.join(T, "maillog")).read() if os.path.exists(os.path.join(T, "maillog")) else ""
pf = lambda *a: subprocess.run(["postfix", "-c", os.path.join(T, "conf")] + list(a), capture_output=True, timeout=60)
try:
    t.ok(wait_port(dns_port, timeout=10) or True, "unbound started")
    for args in (["set-permissions"], ["check"], ["start"]):
        r = pf(*args)
        if args == ["start"]:
            started = r.returncode == 0
    t.ok(started and all(wait_port(pf_port, host=a) for a in MX), "Postfix listens on 127.0.0.1-6", r.stderr)
    relay = Relay(inst, conf={"dns_resolver": f"127.0.0.1:{dns_port}", "mx_port": str(pf_port),
                              "tls_verify": "dane", "tls_rpt": "yes", "retry_min": "1h",
                              "smtp_connect_timeout": "3", "smtp_connection_cache_time": "0",
                              "routes": f"reports.example=[127.0.0.1]:{sink.port}"})
    s = smtplib.SMTP("127.0.0.1", relay.port, timeout=30)
    rcpts = ["a@good.dane.test", "b@bad.dane.test", "c@notlsa.dane.test", "d@nostarttls.dane.test",
             "e@ta.dane.test", "f@insec.dane.test", "g@bogus.dane.test", "h@insecure.test",
             "i@cname.dane.test", "j@pkix.dane.test"]
    for rcpt in rcpts:
        t.eq(s.sendmail("sender@example.org", [rcpt], make_msg(subject=f"to {rcpt}", to=rcpt)), {},
             f"mail for {rcpt} accepted")
    s.quit()
    got = lambda: {r.strip("<>") for r in sink.recipients()}
    want = {"a@good.dane.test", "c@notlsa.dane.test", "e@ta.dane.test", "f@insec.dane.test", "h@insecure.test",
            "i@cname.dane.test", "j@pkix.dane.test"}
    t.ok(wait_for(lambda: want <= got(), 30), "DANE-EE match, DANE-TA match, no TLSA, insecure TLSA and insecure "
         "MX, insecure address records, only PKIX records: delivered",
         inst.log()[-3000:])
    time.sleep(2)
    log, ml = inst.log(), maillog()
    t.ok(re.search(rf"dane: _{pf_port}\._tcp\.mx-good\.dane\.test: 1 TLSA record, 1 usable", log) is not None,
         "the validated TLSA record of mx-good was used", log[-2000:])
    t.ok(re.search(r"postfix-mx-good/smtpd\[\d+\]: (Anonymous|Untrusted|Trusted) TLS connection established", ml)
         is not None, "mx-good's Postfix saw a TLS session", ml[-2000:])
    t.ok(re.search(rf"dane: _{pf_port}\._tcp\.mx-pkix\.dane\.test: 1 TLSA record, 0 usable: TLS is mandatory", log)
         is not None and re.search(r"to=<j@pkix\.dane\.test>, relay=mx-pkix", log) is not None,
         "PKIX-EE only: unusable for SMTP (RFC 7672 3.1.3), sent over unauthenticated TLS", log[-2000:])
    t.ok(re.search(r"postfix-mx-notlsa/smtpd\[\d+\]: (Anonymous|Untrusted|Trusted) TLS connection established", ml)
         is not None, "no TLSA: opportunistic STARTTLS still used", ml[-2000:])
    t.ok(re.search(r"dane: _\d+\._tcp\.mx-insec\.dane\.test: TLSA records not DNSSEC-validated", log) is not None,
         "TLSA records of an unsigned zone: not DNSSEC-validated, DANE does not apply", log[-2000:])
    t.ok("dane: mx-cname.dane.test: address records not DNSSEC-validated: DANE does not apply" in log and
         f"_{pf_port}._tcp.mx-cname" not in log,
         "a host that is a CNAME into an unsigned zone: DANE does not apply (its TLSA is not asked)", log[-2000:])
    t.eq(len(re.findall(r"_\d+\._tcp\.mx\.insecure\.test", log)), 0,
         "an insecure MX RRset (insecure.test): its host's TLSA records are not even asked for (RFC 7672 2.2)")
    t.ok(re.search(r"to=<b@bad\.dane\.test>.*status=deferred \(4\.7\.5 TLS with mx-bad\.dane\.test.* not verified "
                   r"by DANE: the certificate matches none of the 1 usable TLSA records.*not sent in clear\)", log)
         is not None, "a certificate matching no TLSA record: deferred 4.7.5 with the reason", log[-3000:])
    t.ok(re.search(r"to=<d@nostarttls\.dane\.test>.*status=deferred \(4\.7\.5 .*offers no STARTTLS, and TLS is "
                   r"required \(DANE\)", log) is not None, "TLSA records but no STARTTLS: deferred 4.7.5", log[-3000:])
    t.ok(re.search(r"to=<g@bogus\.dane\.test>.*status=deferred \(4\.7\.5 the TLSA lookup failed for every MX host",
                   log) is not None, "a bogus TLSA RRset: deferred although the certificate would match", log[-3000:])
    t.ok(not re.search(r"postfix-mx-bogus", ml) and "g@bogus.dane.test" not in ml,
         "the bogus MX was never contacted")
    t.eq(sorted(r for r in got() if r.split("@")[0] in ("b", "d", "g")), [], "none of the three reached the sink")
    t.ok(not re.search(r"from=<sender@example\.org>.*\n.*to=<(b@bad|d@nostarttls)", ml)
         and "b@bad.dane.test" not in ml and "d@nostarttls.dane.test" not in ml,
         "Postfix never got a MAIL/RCPT for them (nothing in clear)", ml[-2000:])
    q = inst.check("queue")
    t.ok(all(x in q for x in ("b@bad.dane.test", "d@nostarttls.dane.test", "g@bogus.dane.test")),
         "the three wait in the queue", q)
    t.ok("DANE" in q, "the queue shows the DANE reason", q)

    # ---- TLS-RPT: one failed session, the certificate fixed, several good ones ----
    s = smtplib.SMTP("127.0.0.1", relay.port, timeout=30)
    s.sendmail("sender@example.org", ["r1@rpt.dane.test"], make_msg(subject="rpt 1", to="r1@rpt.dane.test"))
    s.quit()
    t.ok(wait_for(lambda: re.search(r"to=<r1@rpt\.dane\.test>.*status=deferred \(4\.7\.5", inst.log()), 20),
         "rpt.dane.test with the wrong certificate: deferred", inst.log()[-1500:])
    write_master({a: ("good" if a == "127.0.0.6" else c) for a, (h, c) in MX.items()})
    r = pf("reload")
    t.ok(r.returncode == 0, "Postfix reloaded with mx-rpt's certificate fixed", r.stderr)
    time.sleep(2)
    inst.check("flush")
    t.ok(wait_for(lambda: "r1@rpt.dane.test" in got(), 30), "after the fix the deferred mail is delivered",
         inst.log()[-1500:])
    for i in (2, 3):
        s = smtplib.SMTP("127.0.0.1", relay.port, timeout=30)
        s.sendmail("sender@example.org", [f"r{i}@rpt.dane.test"], make_msg(subject=f"rpt {i}", to=f"r{i}@rpt.dane.test"))
        s.quit()
        t.ok(wait_for(lambda: f"r{i}@rpt.dane.test" in got(), 30), f"rpt mail {i} delivered")
    time.sleep(1)
    tls_sessions = len(re.findall(r"postfix-mx-rpt/smtpd\[\d+\]: \S+ TLS connection established", maillog()))
    t.ok(tls_sessions >= 3, f"Postfix at mx-rpt logged {tls_sessions} TLS sessions", maillog()[-2000:])
    relay.stop()
    relay = None
    # the day is over: what was recorded today becomes yesterday's
    db = sqlite3.connect(inst.path("kairan.db"))
    rows = db.execute("SELECT count(*) FROM tlsrpt_sessions WHERE domain = 'rpt.dane.test'").fetchone()[0]
    t.ok(rows >= 2, "sessions with rpt.dane.test were recorded")
    yesterday = db.execute("SELECT date('now', '-1 day')").fetchone()[0]
    db.execute("UPDATE tlsrpt_sessions SET day = date(day, '-1 day')")
    db.commit()
    db.close()
    before = len(sink.transactions())
    relay = Relay(inst)
    t.ok(wait_for(lambda: any("tls-reports@reports.example" in r for _, rs, _ in sink.transactions() for r in rs), 30),
         "the report reached the rua address", inst.log()[-2000:])
    reports = [(snd, m) for snd, rs, m in sink.transactions() if any("tls-reports@" in r for r in rs)]
    t.eq(len(reports), 1, "exactly one report (only rpt.dane.test publishes _smtp._tls)")
    snd, raw = reports[0]
    t.eq(snd, "<>", "sent with the null envelope sender")
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    subj = str(msg["Subject"])
    t.ok(re.fullmatch(r"Report Domain: rpt\.dane\.test Submitter: \S+ Report-ID: <\S+@\S+>", subj) is not None,
         "Subject as RFC 8460 section 5.3", subj)
    t.eq(str(msg["TLS-Report-Domain"]), "rpt.dane.test", "TLS-Report-Domain")
    t.ok(msg["TLS-Report-Submitter"] and str(msg["TLS-Report-Submitter"]) in subj, "TLS-Report-Submitter")
    t.eq((msg.get_content_type(), msg.get_param("report-type")), ("multipart/report", "tlsrpt"),
         "multipart/report; report-type=tlsrpt")
    parts = [p for p in msg.iter_parts() if p.get_content_type() == "application/tlsrpt+gzip"]
    t.eq(len(parts), 1, "one application/tlsrpt+gzip part")
    fname = parts[0].get_filename() or ""
    t.ok(re.fullmatch(r"[^!]+!rpt\.dane\.test!\d+!\d+!.+\.json\.gz", fname) is not None,
         "file name submitter!domain!begin!end!id.json.gz", fname)
    rep = json.loads(gzip.decompress(parts[0].get_content()))
    t.diag(json.dumps(rep)[:1500])
    for key in ("organization-name", "date-range", "contact-info", "report-id", "policies"):
        t.ok(key in rep, f"report has {key}")
    t.eq(rep["date-range"], {"start-datetime": f"{yesterday}T00:00:00Z", "end-datetime": f"{yesterday}T23:59:59Z"},
         "date-range covers yesterday (UTC)")
    pols = rep.get("policies", [])
    t.eq(len(pols), 1, "one policy: mx-rpt's TLSA RRset")
    p = pols[0] if pols else {}
    t.eq(p.get("policy"), {"policy-type": "tlsa", "policy-string": [f"3 1 1 {GOOD}"],
                           "policy-domain": "rpt.dane.test", "mx-host": ["mx-rpt.dane.test"]}, "the policy")
    # Postfix logs the TLS handshake of the failed session too: kairan
    # rejected that certificate only after the handshake
    t.eq(p.get("summary"), {"total-successful-session-count": tls_sessions - 1, "total-failure-session-count": 1},
         "summary: one failure, the other TLS sessions Postfix logged succeeded")
    fd = p.get("failure-details", [])
    t.eq([(f.get("result-type"), f.get("receiving-mx-hostname"), f.get("receiving-ip"), f.get("failed-session-count"))
          for f in fd], [("validation-failure", "mx-rpt.dane.test", "127.0.0.6", 1)], "failure-details")
    t.ok(fd and "TLSA" in fd[0].get("failure-reason-code", ""), "the failure's reason", fd)
    db = sqlite3.connect(inst.path("kairan.db"))
    left = db.execute("SELECT count(*) FROM tlsrpt_sessions WHERE day < date('now')").fetchone()[0]
    db.close()
    t.eq(left, 0, "the reported day is forgotten, also for domains that want no report")
finally:
    if relay:
        relay.stop()
    if started:
        pf("stop")
    unbound.terminate()
    unbound.wait()
    sink.cleanup()
    if os.environ.get("KEEP_DANE"):
        print("# kept", T)
    else:
        shutil.rmtree(T, ignore_errors=True)
t.done()
