"""test_relay_mtasts.py - outbound TLS policy tls_verify = mta-sts
(RFC 8461).  Everything is real and local: dnsmasq serves the MX, A and
_mta-sts TXT records; a Python HTTPS server with a certificate from a
test CA (tls_ca_file) serves each domain's policy; the MX hosts are real
`kairan relay`s - one with STARTTLS and a certificate for mx.sts.test
(signed by the CA), one on 127.0.0.2 without TLS.  Checked: an enforce
policy whose MX presents a valid certificate delivers; a certificate for
another name, an MX without STARTTLS, and an MX that matches no mx
pattern all defer with 4.7.5 and the mail is never sent in clear (the
plain MX never sees it); a domain without a policy stays opportunistic;
the policy is fetched once and then cached."""
import re
import shutil
import smtplib
import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from kt import *

t = Tap()
if not which("smtp-sink") or not which("dnsmasq"):
    t.skip_all("smtp-sink or dnsmasq not installed")

work = tempfile.mkdtemp(prefix="kairan-sts-")


def sh(*args):
    subprocess.run(args, check=True, capture_output=True, cwd=work)


# a test CA and two leaf certificates it signs
sh("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=kairan test CA",
   "-keyout", "ca.key", "-out", "ca.pem")


def leaf(name, sans):
    with open(os.path.join(work, f"{name}.ext"), "w") as f:
        f.write("subjectAltName=" + ",".join(f"DNS:{s}" for s in sans) + "\n")
    sh("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={sans[0]}", "-keyout", f"{name}.key",
       "-out", f"{name}.csr")
    sh("openssl", "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
       "-days", "2", "-extfile", f"{name}.ext", "-out", f"{name}.pem")
    return os.path.join(work, f"{name}.pem"), os.path.join(work, f"{name}.key")


domains = ["sts.test", "bad.test", "notls.test", "mxmis.test"]
web_cert, web_key = leaf("web", [f"mta-sts.{d}" for d in domains])
mx_cert, mx_key = leaf("mx", ["mx.sts.test"])
policies = {
    "mta-sts.sts.test": "version: STSv1\nmode: enforce\nmx: mx.sts.test\nmax_age: 86400\n",
    "mta-sts.bad.test": "version: STSv1\nmode: enforce\nmx: mx.bad.test\nmax_age: 86400\n",
    "mta-sts.notls.test": "version: STSv1\nmode: enforce\nmx: *.notls.test\nmax_age: 86400\n",
    "mta-sts.mxmis.test": "version: STSv1\nmode: enforce\nmx: other.mxmis.test\nmax_age: 86400\n",
}
fetches = {}


class Policy(BaseHTTPRequestHandler):
    def do_GET(self):
        host = (self.headers.get("Host") or "").split(":")[0]
        fetches[host] = fetches.get(host, 0) + 1
        body = policies.get(host, "").encode()
        if self.path != "/.well-known/mta-sts.txt" or not body:
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


web_port = free_port()
httpd = ThreadingHTTPServer(("127.0.0.1", web_port), Policy)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(web_cert, web_key)
httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
threading.Thread(target=httpd.serve_forever, daemon=True).start()

mx_port = free_port()
dns_port = free_port()
args = [which("dnsmasq"), "--no-daemon", "--conf-file=/dev/null", f"--port={dns_port}",
        "--listen-address=127.0.0.1", "--bind-interfaces", "--no-resolv", "--no-hosts",
        "--user=nobody" if os.geteuid() == 0 else "--user=", "--pid-file=", "--local=/test/"]
for d in domains + ["nopolicy.test"]:
    mxhost = {"notls.test": "mx.notls.test", "mxmis.test": "mx.mxmis.test", "bad.test": "mx.bad.test"}.get(d, "mx.sts.test")
    args.append(f"--mx-host={d},{mxhost},10")
    if d != "nopolicy.test":
        args += [f"--txt-record=_mta-sts.{d},v=STSv1; id=20261201", f"--host-record=mta-sts.{d},127.0.0.1"]
args += ["--host-record=mx.sts.test,127.0.0.1", "--host-record=mx.bad.test,127.0.0.1",
         "--host-record=mx.mxmis.test,127.0.0.1", "--host-record=mx.notls.test,127.0.0.2"]
dns = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

sink = Sink()
routes = ";".join(f"{d}=[127.0.0.1]:{sink.port}" for d in domains + ["nopolicy.test"])
mx = Instance()            # the MX with a verified certificate
plain = Instance()         # the MX without TLS, on 127.0.0.2
inst = Instance()
mxrelay = plainrelay = relay = None
try:
    mxrelay = Relay(mx, port=mx_port, conf={"tls_cert": mx_cert, "tls_key": mx_key, "routes": routes})
    set_global(plain, routes=routes)
    e = dict(os.environ)
    plainrelay = subprocess.Popen([KAIRAN, "--home", plain.home, "relay", "--listen", f"127.0.0.2:{mx_port}"],
                                  env=e, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t.ok(wait_port(mx_port, host="127.0.0.2"), "the MX without TLS listens on 127.0.0.2")
    relay = Relay(inst, conf={"dns_resolver": f"127.0.0.1:{dns_port}", "mx_port": str(mx_port),
                              "tls_verify": "mta-sts", "tls_ca_file": os.path.join(work, "ca.pem"),
                              "mta_sts_port": str(web_port), "retry_min": "1h", "smtp_connect_timeout": "3"})
    s = smtplib.SMTP("127.0.0.1", relay.port, timeout=30)
    for rcpt in ("a@sts.test", "b@bad.test", "c@notls.test", "d@mxmis.test", "e@nopolicy.test"):
        t.eq(s.sendmail("sender@example.org", [rcpt], make_msg(subject=f"to {rcpt}", to=rcpt)), {},
             f"mail for {rcpt} accepted")
    s.quit()
    got = lambda: sorted(r.strip("<>") for r in sink.recipients())
    t.ok(wait_for(lambda: {"a@sts.test", "e@nopolicy.test"} <= set(got()), 20),
         "enforce policy + verified certificate: delivered; no policy: delivered", inst.log()[-2000:])
    t.ok("mta-sts: sts.test policy id 20261201: mode enforce, 1 mx pattern, max_age 86400" in inst.log(),
         "the policy was fetched over HTTPS and logged")
    time.sleep(2)
    log = inst.log()
    t.ok(re.search(r"to=<b@bad\.test>.*status=deferred \(4\.7\.5 TLS with mx\.bad\.test.*not verified: "
                   r"the certificate is not for this host name; not sent in clear\)", log) is not None,
         "a certificate for another name: deferred 4.7.5, not sent in clear", log[-2000:])
    t.ok(re.search(r"to=<c@notls\.test>.*status=deferred \(4\.7\.5 .*offers no STARTTLS", log) is not None,
         "an MX without STARTTLS: deferred 4.7.5", log[-2000:])
    t.ok(re.search(r"to=<d@mxmis\.test>.*status=deferred \(4\.7\.5 no MX host of mxmis\.test matches", log)
         is not None, "an MX matching no mx pattern: deferred 4.7.5", log[-2000:])
    t.eq([r for r in got() if r.split("@")[1] in ("bad.test", "notls.test", "mxmis.test")], [],
         "none of the three reached the sink")
    plain_log = plain.log()
    t.ok("c@notls.test" not in plain_log and not plain.queue(), "the MX without TLS never got the mail",
         plain_log[-800:])
    q = inst.check("queue")
    t.ok(all(x in q for x in ("b@bad.test", "c@notls.test", "d@mxmis.test")), "the three wait in the queue", q)
    # cached: a second mail for sts.test does not fetch the policy again
    s = smtplib.SMTP("127.0.0.1", relay.port, timeout=30)
    s.sendmail("sender@example.org", ["a2@sts.test"], make_msg(subject="second", to="a2@sts.test"))
    s.quit()
    t.ok(wait_for(lambda: "a2@sts.test" in got(), 20), "a second mail for sts.test is delivered")
    t.eq(fetches.get("mta-sts.sts.test"), 1, "the policy was fetched once and cached")
finally:
    for r in (relay, mxrelay):
        if r:
            r.stop()
    if plainrelay:
        plainrelay.terminate()
        plainrelay.wait()
    httpd.shutdown()
    dns.terminate()
    dns.wait()
    sink.cleanup()
    shutil.rmtree(work, ignore_errors=True)
t.done()
