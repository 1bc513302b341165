#!/usr/bin/env python3
"""test_import_mailman3.py - `kairan import mailman3 DIR` on fixtures made
by a real Mailman 3 (Debian's mailman3): a private core instance (its own
var dir, SQLite, REST on a free loopback port, the null MTA, the
prototype archiver), a list made with `mailman create`, members with
`mailman addmembers` (regular with names, a digest one, one with delivery
disabled), one set to no mail and one moderated through REST, an owner and
a moderator through REST, three posts through `mailman inject`, settings
changed through REST.  The export DIR is then:
  config.json   GET /3.1/lists/LIST_ID/config, the bytes as served
  members.csv   built from GET /3.1/lists/LIST_ID/roster/{member,owner,
                moderator} and each member's /preferences:
                email,display_name,delivery_mode,delivery_status,role,
                moderation_action (one header line)
  archive.mbox  the prototype archiver's maildir as an mbox (Python's
                mailbox module, as HyperKitty's export writes it: mboxo)
and a second DIR with the two-column Postorius form (email,display_name,
no header).  Skips when mailman3 is not installed or does not start."""
import atexit
import base64
import json
import mailbox
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request

from kt import *

t = Tap()
if not which("mailman"):
    t.skip_all("Debian's mailman3 is not installed (/usr/bin/mailman)")

tmp = tempfile.mkdtemp(prefix="kairan-mm3-")
if not os.environ.get("KAIRAN_KEEP"):
    atexit.register(shutil.rmtree, tmp, True)      # also after a skip or a failure
port = free_port()
cfg = os.path.join(tmp, "mailman.cfg")
with open(cfg, "w") as f:
    f.write(f"""[mailman]
layout: kt
site_owner: site-owner@example.test
[paths.kt]
var_dir: {tmp}/var
bin_dir: /usr/lib/mailman3/bin
[database]
class: mailman.database.sqlite.SQLiteDatabase
url: sqlite:///$DATA_DIR/mailman.db
[webservice]
hostname: 127.0.0.1
port: {port}
admin_user: restadmin
admin_pass: kt-rest-pass
[mta]
incoming: mailman.mta.null.NullMTA
smtp_host: 127.0.0.1
smtp_port: 9
[archiver.prototype]
enable: yes
[logging.root]
level: warning
""")
    # only the runners a post needs to reach the archive (in, pipeline,
    # archive) and REST: fewer processes start faster on a busy machine
    for r in ("bounces", "command", "digest", "lmtp", "nntp", "out", "retry", "task", "virgin"):
        f.write(f"[runner.{r}]\nstart: no\n")
MM = ["mailman"] + (["--run-as-root"] if os.getuid() == 0 else []) + ["-C", cfg]
LIST, LIST_ID = "team@example.test", "team.example.test"
AUTH = "Basic " + base64.b64encode(b"restadmin:kt-rest-pass").decode()
BASE = f"http://127.0.0.1:{port}/3.1"


def mm(*args, stdin=None):
    # output to a file: `mailman start` leaves daemons holding it
    with open(os.path.join(tmp, "mm.out"), "w+b") as out:
        r = subprocess.run(MM + list(args), stdin=stdin or subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                           timeout=120, cwd=tmp)
        out.seek(0)
        text = out.read().decode(errors="replace")
    if r.returncode != 0:
        raise RuntimeError(f"mailman {' '.join(args)} failed: {text[-800:]}")
    return text


def rest(method, path, data=None):
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    req = urllib.request.Request(BASE + path, data=body, method=method, headers={"Authorization": AUTH})
    with urllib.request.urlopen(req, timeout=60) as r:
        raw = r.read()
        return r.status, raw


def rest_json(path):
    return json.loads(rest("GET", path)[1])


def member_id(email):
    return rest_json(f"/lists/{LIST_ID}/member/{email}")["member_id"]


started = False
t0 = time.time()
try:
    try:
        mm("create", LIST)
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        t.skip_all(f"mailman create does not work here: {e}")
    for mode, lines in ((None, "Anna Regular <anna@example.org>\nBob Moderated <bob@example.org>\n"
                                "Una Nomail <una@example.org>\n山田 太郎 <taro@example.org>\n"),
                        ("mime", "Dora Digest <dora@example.org>\n"),
                        ("disabled", "Nora <nora@example.org>\n")):
        path = os.path.join(tmp, f"add-{mode}.txt")
        with open(path, "w", encoding="utf-8") as f:
            f.write(lines)
        mm("addmembers", "-W", *(["-d", mode] if mode else []), path, LIST)
    mm("start")
    started = True
    up = False
    for _ in range(60):
        try:
            up = rest("GET", "/system/versions")[0] == 200
            if up:
                break
        except OSError:
            pass
        time.sleep(1)
    if not up:
        t.skip_all("Mailman 3's REST runner did not answer within 60 s")
    t.ok(True, f"Mailman 3 core started, REST on port {port} ({time.time() - t0:.0f} s)")

    # REST: no mail for Una (by_user), Bob moderated, an owner and a moderator
    rest("PATCH", f"/members/{member_id('una@example.org')}/preferences", {"delivery_status": "by_user"})
    rest("PATCH", f"/members/{member_id('bob@example.org')}", {"moderation_action": "hold"})
    for role, addr in (("owner", "boss@example.org"), ("moderator", "mod@example.org")):
        rest("POST", "/members", {"list_id": LIST_ID, "subscriber": addr, "role": role, "pre_verified": "true",
                                  "pre_confirmed": "true", "pre_approved": "true"})

    # settings through REST; default_member_action = hold comes after the posts
    settings = {"subject_prefix": "[Team %d] ", "max_message_size": "200", "default_nonmember_action": "reject",
                "description": "The team's list", "subscription_policy": "moderate", "archive_policy": "private",
                "reply_goes_to_list": "point_to_list"}
    t.eq(rest("PATCH", f"/lists/{LIST_ID}/config", settings)[0], 204, "settings changed through REST")

    # posts: the member posts pass (default_member_action defer), archived by the prototype archiver
    now = time.time()
    for i in range(1, 4):
        msg = (f"From: Anna Regular <anna@example.org>\nTo: {LIST}\nSubject: Mailman post {i}\n"
               f"Date: {time.strftime('%a, %d %b %Y %H:%M:%S +0000', time.gmtime(now - 60 * (4 - i)))}\n"
               f"Message-ID: <mm3-post-{i}@example.org>\n"
               + ("In-Reply-To: <mm3-post-1@example.org>\n" if i == 3 else "")
               + f"\nBody of post {i}.\nFrom here on, a line an mbox must quote.\n")
        path = os.path.join(tmp, f"post{i}.eml")
        with open(path, "w") as f:
            f.write(msg)
        mm("inject", "-f", path, LIST)
    arch = os.path.join(tmp, "var", "archives", "prototype", LIST)
    for _ in range(90):
        if os.path.isdir(arch) and len(mailbox.Maildir(arch, create=False)) >= 3:
            break
        time.sleep(1)
    md = mailbox.Maildir(arch, create=False) if os.path.isdir(arch) else {}
    t.eq(len(md), 3, "Mailman 3 archived the three injected posts (prototype archiver)")
    t.eq(rest("PATCH", f"/lists/{LIST_ID}/config", {"default_member_action": "hold"})[0], 204,
         "default_member_action = hold through REST")

    # the export DIR
    out = os.path.join(tmp, "export")
    os.makedirs(out)
    with open(os.path.join(out, "config.json"), "wb") as f:
        f.write(rest("GET", f"/lists/{LIST_ID}/config")[1])
    rows = []
    for role in ("member", "owner", "moderator"):
        for e in rest_json(f"/lists/{LIST_ID}/roster/{role}").get("entries", []):
            prefs = rest_json(f"/members/{e['member_id']}/preferences") if role == "member" else {}
            rows.append([e["email"], e.get("display_name") or "", e.get("delivery_mode", ""),
                         prefs.get("delivery_status", ""), role, e.get("moderation_action") or ""])
    import csv
    with open(os.path.join(out, "members.csv"), "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["email", "display_name", "delivery_mode", "delivery_status", "role", "moderation_action"])
        w.writerows(rows)
    mb = mailbox.mbox(os.path.join(out, "archive.mbox"))
    # maildir names start with the arrival time (then M, P, Q counters)
    for key in sorted(md.keys(), key=lambda k: (int(k.split(".")[0]), k)):
        mb.add(md[key])
    mb.flush()
    mb.close()
    postorius = os.path.join(tmp, "export-postorius")
    os.makedirs(postorius)
    shutil.copy(os.path.join(out, "config.json"), postorius)
    with open(os.path.join(postorius, "members.csv"), "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([r[0], r[1]] for r in rows if r[4] == "member")
    import gzip   # the archive as HyperKitty's download gives it: LIST.mbox.gz
    with open(os.path.join(out, "archive.mbox"), "rb") as src, gzip.open(os.path.join(postorius, "archive.mbox.gz"), "wb") as dst:
        dst.write(src.read())
finally:
    if started:
        try:
            mm("stop")
        except Exception as e:  # noqa: BLE001
            t.diag(f"mailman stop: {e}")
        pidf = os.path.join(tmp, "var", "master.pid")
        for _ in range(30):
            if not os.path.exists(pidf):
                break
            time.sleep(0.5)
t.diag(f"Mailman 3 fixtures made in {time.time() - t0:.0f} s")

# ---- kairan import mailman3
inst = Instance()
r = inst.run("import", "mailman3", out)
report = r.stdout.decode()
t.ok(r.returncode == 0, "kairan import mailman3 of a real Mailman 3 export exits 0", r.stderr.decode() + report)
c = lambda k: inst.check("config", "team", k).strip()
t.eq({k: c(k) for k in ("subject_tag", "max_size", "new_member_moderation", "post_policy", "subscribe_policy",
                         "archive_access", "reply_to", "description")},
     {"subject_tag": "[Team %d]", "max_size": "204800", "new_member_moderation": "yes", "post_policy": "members",
      "subscribe_policy": "approve", "archive_access": "members", "reply_to": "list", "description": "The team's list"},
     "the settings made through Mailman's REST are mapped")
t.eq((c("owners"), c("moderators")), ("boss@example.org", "mod@example.org"), "owner and moderator from the rosters")
mem = {}
for line in inst.check("members", "team", "-v").splitlines():
    w = line.split()
    mem[w[0]] = set(w[1:])
t.eq(sorted(mem), ["anna@example.org", "bob@example.org", "dora@example.org", "nora@example.org", "taro@example.org",
                   "una@example.org"], "every member and only the members")
t.ok("digest" in mem.get("dora@example.org", ()) and "digest" not in mem.get("anna@example.org", {"digest"}),
     "addmembers -d mime is a digest member", mem)
t.ok("nomail" in mem.get("nora@example.org", ()) and "nomail" in mem.get("una@example.org", ())
     and "nomail" not in mem.get("anna@example.org", {"nomail"}),
     "delivery disabled (by_moderator, addmembers) and by_user (REST) are no mail", mem)
t.ok("moderated" in mem.get("bob@example.org", ()) and "moderated" not in mem.get("anna@example.org", {"moderated"}),
     "moderation_action hold (REST) is moderated", mem)
exported = inst.check("export", "team", "--members")
t.ok("anna@example.org,Anna Regular," in exported and "taro@example.org,山田 太郎," in exported,
     "display names kept (Japanese too)", exported)
nums = inst.archive_numbers("team")
t.eq(nums, [1, 2, 3], "the three archived posts imported")
subj = [str(inst.archive("team", n)["Subject"]) for n in nums]
t.eq(subj, ["[Team 1] Mailman post 1", "[Team 2] Mailman post 2", "[Team 3] Mailman post 3"],
     "posts as Mailman archived them, its prefix and order kept")
raw1 = open(inst.path("spool", "team", "archive", "1"), "rb").read()
t.ok(b"\nFrom here on, a line an mbox must quote.\n" in raw1 and b">From here" not in raw1,
     "the mbox's From quoting is undone")
t.ok("send_welcome_message" in report, "Mailman settings kairan does not have are named in the report", report)
t.ok("moderator_password" not in report and "usenet_watermark" not in report and "config.json post_id" not in report
     and "without a value" in report, "settings without a value (null, \"\", []) are counted, not listed one by one", report)
t.eq({k: c(k) for k in ("dmarc", "personalize", "digest_size")},
     {"dmarc": "off", "personalize": "no", "digest_size": "30720"},
     "dmarc_mitigate_action, personalize, digest_size_threshold are mapped")
# post_id: kairan numbers the next post as Mailman would have ([Team 4])
r = inst.deliver("team", make_msg(subject="First post in kairan", frm="Anna Regular <anna@example.org>"),
                 sender="anna@example.org")
nums = inst.archive_numbers("team")
t.ok(nums == [1, 2, 3, 4] and str(inst.archive("team", 4)["Subject"]) == "[Team 4] First post in kairan",
     "Mailman's post_id carries on: the next post is [Team 4]", (nums, nums and str(inst.archive("team", nums[-1])["Subject"])))

# the two-column Postorius form: addresses and names, all regular
inst2 = Instance()
r = inst2.run("import", "mailman3", postorius)
t.ok(r.returncode == 0, "import of the two-column members.csv exits 0", r.stderr.decode() + r.stdout.decode())
exported = inst2.check("export", "team", "--members")
t.eq([str(inst2.archive("team", n)["Subject"]) for n in inst2.archive_numbers("team")],
     ["[Team 1] Mailman post 1", "[Team 2] Mailman post 2", "[Team 3] Mailman post 3"],
     "archive.mbox.gz (gzip-compressed, as HyperKitty downloads it) is read")
t.ok("anna@example.org,Anna Regular,mail,no" in exported and "dora@example.org,Dora Digest,mail,no" in exported
     and exported.count("\n") == 7, "email,display_name rows: members with their names", exported)
t.done()
