"""test_relay_postfix.py - kairan behind a real Postfix on a loopback
port (../shared/recipes/postfix-loopback.md; root only, skipped
otherwise).  `kairan aliases --postalias --postfix-config DIR` writes
HOME/aliases; Postfix's alias map pipes LIST, LIST-ctl and LIST-admin
into `kairan deliver` with the rights of the map's owner; kairan's queue
goes out through `kairan relay` (running as the same user) into
smtp-sink, and every member's copy is checked."""
import pwd
import re
import shutil
import smtplib
import subprocess

from kt import *

t = Tap()
if os.geteuid() != 0:
    t.skip_all("needs root to run a private Postfix")
if not shutil.which("postfix") and not os.path.exists("/usr/sbin/postfix"):
    t.skip_all("postfix not installed")
if not which("smtp-sink"):
    t.skip_all("smtp-sink not installed")

USER = "kairan-test"
try:
    pwd.getpwnam(USER)
except KeyError:
    r = subprocess.run(["useradd", "-r", "-M", "-d", "/nonexistent", "-s", "/usr/sbin/nologin", USER],
                       capture_output=True)
    if r.returncode != 0:
        USER = "nobody"
pw = pwd.getpwnam(USER)

T = tempfile.mkdtemp(prefix="kairan-postfix-")
os.chmod(T, 0o755)
for d in ("conf", "queue", "data"):
    os.mkdir(os.path.join(T, d))
shutil.chown(os.path.join(T, "data"), "postfix")
inst = Instance()
os.chmod(inst.home, 0o755)
inst.newlist("team")
members = [f"member{i}@example.test" for i in range(10)] + ["poster@example.org"]
inst.subscribe("team", *members)
sink = Sink()
pf_port = free_port()
relay = None
started = False
try:
    with open("/etc/postfix/master.cf") as f:
        master = f.read()
    master = re.sub(r"(?m)^smtp\s+inet\s.*$", f"127.0.0.1:{pf_port} inet n - n - - smtpd", master)
    with open(os.path.join(T, "conf", "master.cf"), "w") as f:
        f.write(master)
    alias = inst.path("aliases")
    with open(os.path.join(T, "conf", "main.cf"), "w") as f:
        f.write(f"""compatibility_level = 3.6
queue_directory = {T}/queue
data_directory = {T}/data
myhostname = mx.{DOMAIN}
mydestination = {DOMAIN}, localhost
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
alias_maps = hash:{alias}
alias_database = hash:{alias}
relayhost = [127.0.0.1]:{sink.port}
maillog_file = {T}/maillog
maillog_file_prefixes = /var, {T}
smtputf8_enable = no
""")
    r = inst.run("aliases", "--postalias", "--postfix-config", os.path.join(T, "conf"))
    t.ok(r.returncode == 0 and os.path.exists(alias + ".db"), "kairan aliases --postalias wrote HOME/aliases(.db)",
         r.stderr)
    text = open(alias).read()
    t.ok(f"--home {inst.home}" in text and "deliver --ctl team" in text, "alias lines name the instance", text)
    subprocess.run(["chown", "-R", f"{USER}:", inst.home], check=True)
    for args in (["set-permissions"], ["check"], ["start"]):
        r = subprocess.run(["postfix", "-c", os.path.join(T, "conf")] + args, capture_output=True, timeout=60)
        if args == ["start"]:
            started = r.returncode == 0
    t.ok(started and wait_port(pf_port), "private Postfix started", r.stderr)
    relay = Relay(inst, user=USER, conf={"routes": f"example.test=[127.0.0.1]:{sink.port};"
                                                   f"example.org=[127.0.0.1]:{sink.port}"})
    s = smtplib.SMTP("127.0.0.1", pf_port, timeout=30)
    t.eq(s.sendmail("poster@example.org", [f"team@{DOMAIN}"], make_msg(subject="through postfix",
                                                                         to=f"team@{DOMAIN}")), {},
         "Postfix accepted the post")
    s.sendmail("poster@example.org", [f"team-ctl@{DOMAIN}"], make_msg(subject="help", body="help\n"))
    s.sendmail("poster@example.org", [f"team-admin@{DOMAIN}"], make_msg(subject="to the owners"))
    s.quit()
    ok = wait_for(lambda: set(members) <= {r.strip("<>") for snd, rs, m in sink.transactions()
                                            if b"through postfix" in m for r in rs}, 30, 0.2)
    maillog = lambda: open(os.path.join(T, "maillog")).read() if os.path.exists(os.path.join(T, "maillog")) else ""
    t.ok(ok, "every member's copy arrived in smtp-sink via Postfix -> kairan deliver -> kairan relay",
         maillog()[-2000:] + inst.log()[-1500:])
    copies = [m for snd, rs, m in sink.transactions() if b"through postfix" in m]
    t.ok(copies and all(b"[team:00001] through postfix" in m and b"List-Id:" in m for m in copies),
         "copies are the list's distributed form")
    # -ctl and -admin may still answer 75 in a build without src/ctl: the
    # pipe ran either way (Postfix logs kairan's own message then).
    piped = lambda: all(re.search(rf"to=<{a}@{re.escape(DOMAIN)}>, relay=local.*(delivered to command|kairan/deliver)",
                                  maillog()) for a in ("team", "team-ctl", "team-admin"))
    t.ok(wait_for(piped, 20), "LIST, LIST-ctl and LIST-admin were piped to kairan deliver", maillog()[-2000:])
    owner = {p.pw_uid for p in [pw]}
    st = os.stat(inst.path("spool", "team", "archive", "1")) if os.path.exists(
        inst.path("spool", "team", "archive", "1")) else None
    t.ok(st is not None and st.st_uid in owner, f"the pipe ran as the alias map's owner ({USER})")
    t.ok(wait_for(lambda: "Mail queue is empty" in inst.check("queue"), 15), "kairan queue empty afterwards")
finally:
    if relay:
        relay.stop()
    if started:
        subprocess.run(["postfix", "-c", os.path.join(T, "conf"), "stop"], capture_output=True, timeout=60)
    sink.cleanup()
    shutil.rmtree(T, ignore_errors=True)
t.done()
