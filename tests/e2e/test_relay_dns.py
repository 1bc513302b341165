"""test_relay_dns.py - MX routing through a real DNS server on loopback
(dnsmasq with --mx-host records on a free port, kairan.conf
dns_resolver): mail goes to the MX host's address, the preferred MX
first with fall-back to the next one when it is down, a domain with no
MX to its A record (RFC 5321 implicit MX), and a domain that does not
exist bounces (5.1.2)."""
import smtplib
import subprocess

from kt import *

t = Tap()
DNSMASQ = which("dnsmasq")
if not which("smtp-sink") or not DNSMASQ:
    t.skip_all("smtp-sink or dnsmasq not installed")

inst = Instance()
sink = Sink()
dead = free_port()            # nothing listens here
dns_port = free_port()
dns = subprocess.Popen([DNSMASQ, "--no-daemon", "--conf-file=/dev/null", f"--port={dns_port}",
                        "--listen-address=127.0.0.1", "--bind-interfaces", "--no-resolv", "--no-hosts",
                        "--user=nobody" if os.geteuid() == 0 else "--user=", "--pid-file=",
                        "--mx-host=mx.test,mx1.mx.test,10", "--host-record=mx1.mx.test,127.0.0.1",
                        "--mx-host=two.test,down.two.test,5", "--mx-host=two.test,up.two.test,20",
                        "--host-record=down.two.test,127.0.0.2", "--host-record=up.two.test,127.0.0.1",
                        "--host-record=nomx.test,127.0.0.1", "--local=/test/"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
relay = None
try:
    time.sleep(0.3)
    if dns.poll() is not None:
        t.skip_all("dnsmasq did not start: " + dns.stderr.read().decode(errors="replace"))
    # MX delivery goes to port mx_port: the sink's port; the dead MX 127.0.0.2 refuses
    relay = Relay(inst, conf={"dns_resolver": f"127.0.0.1:{dns_port}", "mx_port": str(sink.port),
                              "retry_min": "1", "retry_max": "2", "smtp_connect_timeout": "2"})
    s = smtplib.SMTP("127.0.0.1", relay.port, timeout=30)
    t.eq(s.sendmail("someone@example.org", ["a@mx.test"], make_msg()), {}, "mail for a@mx.test accepted")
    t.ok(sink.wait_recipients(1, 10), "delivered through the MX record", inst.log()[-1500:])
    t.ok("relay=mx1.mx.test[127.0.0.1]" in inst.log(), "log names the MX host", inst.log()[-800:])
    s.sendmail("someone@example.org", ["b@two.test"], make_msg())
    t.ok(sink.wait_recipients(2, 15), "preferred MX down: the next MX got it", inst.log()[-1500:])
    t.ok("relay=up.two.test[127.0.0.1]" in inst.log(), "delivered via up.two.test")
    s.sendmail("someone@example.org", ["c@nomx.test"], make_msg())
    t.ok(sink.wait_recipients(3, 10), "no MX: delivered to the domain's A record")
    t.ok("relay=nomx.test[127.0.0.1]" in inst.log(), "implicit MX logged")
    s.sendmail("someone@example.org", ["d@nxdomain.test"], make_msg())
    t.ok(wait_for(lambda: "to=<d@nxdomain.test>" in inst.log() and "5.1.2" in inst.log(), 10),
         "non-existent domain bounces with 5.1.2", inst.log()[-1500:])
    s.quit()
finally:
    if relay:
        relay.stop()
    dns.terminate()
    dns.wait()
    sink.cleanup()
t.done()
