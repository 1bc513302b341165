#!/usr/bin/env python3
"""test_postfix_recipe.py - README's "With Postfix" recipe, followed as
written, with a private Postfix (root only; set-up of the private
instance as in ../shared/recipes/postfix-loopback.md).  The test takes the
main.cf block and the command block from README.md itself, so the doc and
the test cannot drift, and changes only what must differ on a test
machine, each substitution listed in SUBST: the instance directory, the
system alias file (a private copy, so /etc is not touched), the user
(kairan-test), the kairan binary (the built one), and the two ports
(Postfix's smtpd, kairan's relay).  Every Postfix command finds the
private instance through MAIL_CONFIG, which postfix, postalias and
postmap all read.  Then a post to team@lists.example.org (default domain,
alias_maps) and one to team@lists.example.net (virtual_alias_maps) each
reach their list's member through kairan relay and Postfix."""
import pwd
import re
import shlex
import shutil
import signal
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

readme = open(os.path.join(SRCDIR, "README.md"), encoding="utf-8").read()
m = re.search(r"^### With Postfix\n(.*?)^### ", readme, re.S | re.M)
section = m.group(1) if m else ""
blocks = re.findall(r"^```(\w*)\n(.*?)^```", section, re.S | re.M)
maincf = next((b for lang, b in blocks if b.startswith("# main.cf")), None)
commands = next((b for lang, b in blocks if lang == "sh"), None)
t.ok(maincf is not None and commands is not None, "README's Postfix section has a main.cf block and a sh block",
     section[:500])
if maincf is None or commands is None:
    t.done()

USER = "kairan-test"
try:
    pwd.getpwnam(USER)
except KeyError:
    subprocess.run(["useradd", "-r", "-M", "-d", "/nonexistent", "-s", "/usr/sbin/nologin", USER],
                   capture_output=True)
try:
    pwd.getpwnam(USER)
except KeyError:
    t.skip_all("cannot create the user " + USER)

T = tempfile.mkdtemp(prefix="kairan-recipe-")
os.chmod(T, 0o755)
for d in ("conf", "queue", "data"):
    os.mkdir(os.path.join(T, d))
shutil.chown(os.path.join(T, "data"), "postfix")
HOME = os.path.join(T, "kairan")
SYS_ALIASES = os.path.join(T, "etc-aliases")
with open(SYS_ALIASES, "w") as f:
    f.write("postmaster: root\n")
sink = Sink()
pf_port, relay_port = free_port(), free_port()
SUBST = [
    (r"/var/lib/kairan\b", HOME),
    (r"/etc/aliases\b", SYS_ALIASES),
    (r"(-u|-o|-g) kairan\b", rf"\1 {USER}"),
    (r"-- kairan ", f"-- {os.path.abspath(KAIRAN)} "),
    (r"127\.0\.0\.1:2525\b", f"127.0.0.1:{relay_port}"),
    (r"127\.0\.0\.1:25\b", f"127.0.0.1:{pf_port}"),
]


def subst(text):
    for pat, rep in SUBST:
        text = re.sub(pat, rep, text)
    return text


env = dict(os.environ)
env.pop("KAIRAN_HOME", None)
env["MAIL_CONFIG"] = os.path.join(T, "conf")
env["PATH"] = "/usr/sbin:/usr/bin:/sbin:/bin:" + env.get("PATH", "")
maillog = lambda: open(os.path.join(T, "maillog")).read() if os.path.exists(os.path.join(T, "maillog")) else ""
started = False
background = []
try:
    with open("/etc/postfix/master.cf") as f:
        master = f.read()
    master = re.sub(r"(?m)^smtp\s+inet\s.*$", f"127.0.0.1:{pf_port} inet n - n - - smtpd", master)
    with open(os.path.join(T, "conf", "master.cf"), "w") as f:
        f.write(master)
    # the private instance's own lines (postfix-loopback.md), then README's main.cf, unchanged but paths
    with open(os.path.join(T, "conf", "main.cf"), "w") as f:
        f.write(f"""compatibility_level = 3.6
queue_directory = {T}/queue
data_directory = {T}/data
myhostname = mx.example.org
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost = [127.0.0.1]:{sink.port}
maillog_file = {T}/maillog
maillog_file_prefixes = /var, {T}
smtputf8_enable = no
""" + subst(maincf))
    for args in (["set-permissions"], ["check"], ["start"]):
        r = subprocess.run(["postfix", "-c", os.path.join(T, "conf")] + args, capture_output=True, timeout=60)
        if args == ["start"]:
            started = r.returncode == 0
    t.ok(started and wait_port(pf_port), "private Postfix started with README's main.cf lines", r.stderr)

    for line in commands.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        cmd = subst(line)
        if cmd.endswith("&"):
            p = subprocess.Popen(shlex.split(cmd[:-1]), env=env, stdout=subprocess.DEVNULL,
                                 stderr=open(os.path.join(T, "bg.err"), "ab"), start_new_session=True)
            background.append(p)
            ok = wait_port(relay_port) and p.poll() is None
            t.ok(ok, f"README: {line}", open(os.path.join(T, "bg.err")).read())
        else:
            r = subprocess.run(shlex.split(cmd), env=env, capture_output=True, timeout=120)
            t.ok(r.returncode == 0, f"README: {line}", (r.stdout + r.stderr).decode(errors="replace")[-800:])

    def owner(path):
        return pwd.getpwuid(os.stat(path).st_uid).pw_name if os.path.exists(path) else None
    t.ok(owner(os.path.join(HOME, "aliases.db")) == USER and owner(os.path.join(HOME, "virtual.db")) == USER,
         "aliases.db and virtual.db belong to the kairan user (the pipes run as it)",
         (owner(os.path.join(HOME, "aliases.db")), owner(os.path.join(HOME, "virtual.db"))))

    s = smtplib.SMTP("127.0.0.1", pf_port, timeout=30)
    s.ehlo("client.example.org")
    for rcpt in ("team@lists.example.org", "team@lists.example.net", "team-ctl@lists.example.net",
                 "team-admin+bob=example.org@lists.example.net", "team-admin+x@lists.example.org"):
        s.docmd("MAIL FROM:<alice@example.org>")
        code, msg = s.docmd(f"RCPT TO:<{rcpt}>")
        t.eq(code, 250, f"Postfix accepts RCPT <{rcpt}>")
        s.rset()
    s.docmd("MAIL FROM:<alice@example.org>")
    code, msg = s.docmd("RCPT TO:<nosuch@lists.example.net>")
    t.ok(code == 550, "Postfix refuses an unknown address of the virtual domain (550)", msg)
    s.rset()
    t.eq(s.sendmail("alice@example.org", ["team@lists.example.org"],
                    make_msg(subject="via postfix org", frm="alice@example.org", to="team@lists.example.org")),
         {}, "post to team@lists.example.org accepted by Postfix")
    t.eq(s.sendmail("bob@example.org", ["team@lists.example.net"],
                    make_msg(subject="via postfix net", frm="bob@example.org", to="team@lists.example.net")),
         {}, "post to team@lists.example.net accepted by Postfix")
    s.quit()
    t.ok(sink.wait_recipients(2, timeout=60), "both posts reached the members (Postfix -> kairan -> relay -> Postfix)",
         str(sink.recipients()) + maillog()[-2000:])
    got = {}
    for snd, rcpts, raw in sink.transactions():
        for rc in rcpts:
            got.setdefault(rc.strip("<>"), []).append(raw)
    t.ok(any(b"[team:00001] via postfix org" in x and b"List-Id: <team.lists.example.org>" in x
             for x in got.get("alice@example.org", [])),
         "alice (team, default domain via alias_maps) got the post", list(got))
    t.ok(any(b"[team:00001] via postfix net" in x and b"List-Id: <team.lists.example.net>" in x
             for x in got.get("bob@example.org", [])),
         "bob (team@lists.example.net via virtual_alias_maps) got the post", list(got))
    t.ok(os.path.exists(os.path.join(HOME, "spool", "team@lists.example.net", "archive", "1")),
         "archived in spool/team@lists.example.net/")
    t.ok(re.search(r"relay=local.*delivered to command", maillog()) is not None,
         "Postfix delivered through the alias pipes", maillog()[-1500:])
finally:
    for p in background:
        try:
            os.killpg(p.pid, signal.SIGTERM)
            p.wait(10)
        except Exception:
            pass
    if started:
        subprocess.run(["postfix", "-c", os.path.join(T, "conf"), "stop"], capture_output=True, timeout=60)
    sink.cleanup()
    shutil.rmtree(T, ignore_errors=True)
t.done()
