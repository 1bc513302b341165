"""test_personalize_postfix.py - VERP bounces of personalized delivery
behind a real Postfix (root only, skipped otherwise; set-up as in
test_relay_postfix.py).  With `recipient_delimiter = +` in main.cf, as the
README says, a bounce to LIST-admin+LOCAL=DOMAIN@DOMAIN finds the
LIST-admin alias, Postfix's pipe passes ORIGINAL_RECIPIENT, and an
unparseable report raises exactly the bounce score of the member the VERP
address names."""
import pwd
import sqlite3
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
members = [f"m{i}@example.test" for i in range(3)]
inst.subscribe("team", *members)
inst.config("team", "personalize", "yes")
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
recipient_delimiter = +
""")
    r = inst.run("aliases", "--postalias", "--postfix-config", os.path.join(T, "conf"))
    t.ok(r.returncode == 0, "kairan aliases --postalias", r.stderr)
    subprocess.run(["chown", "-R", f"{USER}:", inst.home], check=True)
    for args in (["set-permissions"], ["check"], ["start"]):
        r = subprocess.run(["postfix", "-c", os.path.join(T, "conf")] + args, capture_output=True, timeout=60)
        if args == ["start"]:
            started = r.returncode == 0
    t.ok(started and wait_port(pf_port), "private Postfix started", r.stderr)
    verp = f"team-admin+m1=example.test@{DOMAIN}"
    junk = (f"From: MAILER-DAEMON@elsewhere.example\nTo: {verp}\nSubject: Undeliverable\n"
            "Message-ID: <junk-2@elsewhere.example>\n\nSorry, something went wrong.\n").encode()
    s = smtplib.SMTP("127.0.0.1", pf_port, timeout=30)
    t.eq(s.sendmail("", [verp], junk), {}, "Postfix accepted the bounce to the VERP address")
    s.quit()

    def scores():
        db = sqlite3.connect(inst.path("kairan.db"), timeout=30)
        try:
            return {a: sc for a, sc in db.execute("SELECT address, bounce_score FROM members WHERE list='team'")}
        finally:
            db.close()
    maillog = lambda: open(os.path.join(T, "maillog")).read() if os.path.exists(os.path.join(T, "maillog")) else ""
    t.ok(wait_for(lambda: scores().get("m1@example.test", 0) >= 1, 30, 0.2),
         "the member named by the VERP address got a bounce score", str(scores()) + maillog()[-1500:])
    t.ok(scores()["m0@example.test"] == 0 and scores()["m2@example.test"] == 0, "nobody else", scores())
    t.ok(re.search(rf"to=<team-admin@{re.escape(DOMAIN)}>, orig_to=<{re.escape(verp)}>, relay=local", maillog())
         is not None or re.search(rf"to=<{re.escape(verp)}>.*relay=local", maillog()) is not None,
         "Postfix delivered it through the LIST-admin alias", maillog()[-1500:])
finally:
    if started:
        subprocess.run(["postfix", "-c", os.path.join(T, "conf"), "stop"], capture_output=True, timeout=60)
    sink.cleanup()
    shutil.rmtree(T, ignore_errors=True)
t.done()
