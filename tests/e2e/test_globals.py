"""test_globals.py - the [global] keys of kairan.conf: `kairan config --global`
lists every key with its value and marks defaults, sets a valid value,
refuses a misspelt key or a bad value, exits 78 naming a bad key that
kairan.conf holds, the daemons log it at start, and every key the sources
read is in the table (so no default is written at a call site)."""
import glob
import os
import re
import subprocess
import time

from kt import *

t = Tap()
inst = Instance()

r = inst.run("config", "--global")
out = r.stdout.decode()
t.eq(r.returncode, 0, "config --global exits 0 on a fresh instance")
rows = dict(line.split(" = ", 1) for line in out.splitlines() if " = " in line)
t.ok(len(rows) >= 25, f"config --global lists at least 25 keys ({len(rows)})", out)
t.eq(rows.get("domain"), DOMAIN, "the domain set by init is shown, not marked default")
t.eq(rows.get("smtpd_timeout"), "300 (default)", "an unset key shows its default, marked")
t.eq(rows.get("pop3_plaintext_auth"), "loopback (default)", "an enum key shows its default")

# every key the C sources read through instance_global*() is in the table
src = os.path.join(SRCDIR, "src")
used = set()
for path in glob.glob(os.path.join(src, "**", "*.c"), recursive=True) + glob.glob(os.path.join(SRCDIR, "cgi", "*.c")):
    text = open(path, encoding="utf-8").read()
    used |= set(re.findall(r'instance_global(?:_int|_bool|_double)?\([^,]+,\s*"([a-z0-9_]+)"', text))
    used |= set(re.findall(r'conf_int\(inst,\s*"([a-z0-9_]+)"', text))
missing = sorted(k for k in used if k not in rows)
t.ok(len(used) >= 25 and not missing, f"every [global] key read in src/ is in the table ({len(used)} read)",
     f"missing: {missing}")
t.ok(not re.search(r"instance_global_default", "".join(
    open(p, encoding="utf-8").read() for p in glob.glob(os.path.join(src, "**", "*.c"), recursive=True))),
     "no call site passes its own default")

# get and set
r = inst.run("config", "--global", "max_rcpt_per_txn", "50")
t.eq(r.returncode, 0, "config --global KEY VALUE sets a key")
t.eq(inst.run("config", "--global", "max_rcpt_per_txn").stdout.decode().strip(), "50", "config --global KEY shows it")
conf = open(inst.path("kairan.conf"), encoding="utf-8").read()
t.ok("max_rcpt_per_txn=50" in conf and "# kairan.conf" in conf, "kairan.conf holds it and keeps its comments", conf)
r = inst.run("config", "--global", "smtpd_timeout", "10m")
t.ok(r.returncode == 0 and "smtpd_timeout = 10m\n" in inst.run("config", "--global").stdout.decode(),
     "a set key is no longer marked default")
r = inst.run("config", "--global", "smtpd_timeout", "")
t.ok(r.returncode == 0 and "smtpd_timeout = 300 (default)" in inst.run("config", "--global").stdout.decode(),
     "an empty value removes the key: the default applies again")

r = inst.run("config", "--global", "smtpd_timout", "5")
err = r.stderr.decode()
t.ok(r.returncode == 64 and "smtpd_timout" in err and "smtpd_timeout" in err,
     "a misspelt key is refused (64), naming the key and the one meant", err)
for key, bad, word in (("mynetworks", "not-a-net", "networks"), ("max_rcpt_per_txn", "-1", "whole number"),
                       ("retry_min", "soon", "duration"), ("pop3_plaintext_auth", "always", "loopback|tls|any"),
                       ("web_url", "ftp://x/", "URL"), ("relay_listen", "127.0.0.1:99999", "HOST:PORT"),
                       ("pop3_apop", "maybe", "yes or no"), ("tls_cert", "relative.pem", "absolute")):
    r = inst.run("config", "--global", key, bad)
    t.ok(r.returncode == 64 and key in r.stderr.decode() and word in r.stderr.decode(),
         f"config --global {key} {bad} is refused naming what it takes", r.stderr)
t.eq(inst.run("config", "--global", "max_rcpt_per_txn").stdout.decode().strip(), "50",
     "a refused value leaves the key as it was")

# a misspelt key or a bad value written into kairan.conf by hand
set_global(inst, smtpd_timout="5", retry_min="soon")
r = inst.run("config", "--global")
err = r.stderr.decode()
t.eq(r.returncode, 78, "config --global exits 78 when kairan.conf holds a bad key")
t.ok("smtpd_timout" in err and "smtpd_timeout" in err and "retry_min = soon" in err,
     "it names the misspelt key (with the one meant) and the bad value", err)
t.ok("retry_min = 300 (default: the value in kairan.conf is invalid)" in r.stdout.decode(), "the bad value's default is what is in force", r.stdout)

# the relay starts with the defaults and logs the problem
port = free_port()
e = dict(os.environ)
e.pop("KAIRAN_HOME", None)
p = subprocess.Popen([KAIRAN, "--home", inst.home, "relay", "--listen", f"127.0.0.1:{port}"],
                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=e)
up = wait_port(port)
p.terminate()
_, perr = p.communicate(timeout=20)
log = open(inst.path("log", "kairan.log"), encoding="utf-8", errors="replace").read()
t.ok(up, "the relay still starts with a bad key in kairan.conf", perr)
t.ok("smtpd_timout" in log and "retry_min = soon" in log, "the relay logs the bad key and value at start", log[-2000:])
t.ok(b"smtpd_timout" in perr, "and prints them on stderr", perr)

# the value in force reaches the daemon: message_size_limit is the relay's EHLO SIZE
set_global(inst, smtpd_timout="", retry_min="300")
lines = [l for l in open(inst.path("kairan.conf"), encoding="utf-8").read().split("\n") if not l.startswith("smtpd_timout=")]
open(inst.path("kairan.conf"), "w", encoding="utf-8").write("\n".join(lines))
t.eq(inst.run("config", "--global", "message_size_limit", "123456").returncode, 0, "message_size_limit set")
import smtplib
relay = Relay(inst)
try:
    s = smtplib.SMTP("127.0.0.1", relay.port, timeout=10)
    s.ehlo("client.example")
    t.eq(s.esmtp_features.get("size"), "123456", "the relay announces SIZE from message_size_limit")
    s.quit()
finally:
    relay.stop()
t.eq(inst.run("config", "--global").returncode, 0, "config --global exits 0 again once kairan.conf is fixed")
t.done()
