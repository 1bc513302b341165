"""test_import.py - kairan import from mlmmj (a real list made with mlmmj's
own tools, posts through mlmmj-receive into smtp-sink), fml 4 and Mailman
2.1 (fixtures written from their documented formats, Japanese posts from
../shared/corpus), Mailman 3 (config.json in the REST output format,
members.csv, archive.mbox), plain mbox; kairan export and the round trip
export -> import; bad input (65/66, nothing created, --skip-bad)."""
import csv
import io
import os
import re
import shutil
import subprocess
import tempfile
import time
from kt import *

t = Tap()
work = tempfile.mkdtemp(prefix="kairan-import-")
jp = [p for p in corpus_files("japanese") if "jis" in os.path.basename(p) or "iso_2022" in p]
if len(jp) < 2:
    t.skip_all("../shared/corpus/japanese is absent")


def raw(p):
    with open(p, "rb") as f:
        return f.read()


def members(inst, name):
    out = {}
    for line in inst.check("members", name, "-v").splitlines():
        w = line.split()
        out[w[0]] = set(w[1:])
    return out


def lists(inst):
    return inst.check("lists").split()


# ---------------------------------------------------------------- mlmmj
def mlmmj_list():
    """A real mlmmj list: mlmmj-make-ml, mlmmj-sub, posts via mlmmj-receive."""
    if not (which("mlmmj-make-ml") and os.path.exists("/usr/bin/mlmmj-receive") and os.path.exists("/usr/sbin/smtp-sink")):
        return None
    spool = os.path.join(work, "mlmmj")
    os.makedirs(spool)
    subprocess.run(["mlmmj-make-ml", "-L", "devel", "-s", spool], input=b"example.org\nowner@example.org\nen\n",
                   capture_output=True, check=True)
    ld = os.path.join(spool, "devel")
    port = free_port()
    args = ["/usr/sbin/smtp-sink"] + (["-u", "nobody"] if os.getuid() == 0 else []) + [f"127.0.0.1:{port}", "64"]
    sink = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port)
    with open(os.path.join(ld, "control", "relayhost"), "w") as f:
        f.write("127.0.0.1\n")
    with open(os.path.join(ld, "control", "smtpport"), "w") as f:
        f.write(f"{port}\n")
    with open(os.path.join(ld, "control", "prefix"), "w") as f:
        f.write("[devel]\n")
    open(os.path.join(ld, "control", "subonlypost"), "w").close()
    open(os.path.join(ld, "control", "notifysub"), "w").close()
    sub = ["/usr/bin/mlmmj-sub", "-L", ld, "-f", "-q", "-s", "-U"]
    subprocess.run(sub + ["-a", "alice@example.org"], check=True)
    subprocess.run(sub + ["-a", "bob@example.org"], check=True)
    subprocess.run(sub + ["-a", "dora@example.org", "-d"], check=True)
    subprocess.run(sub + ["-a", "nora@example.org", "-n"], check=True)
    posts = [make_msg("first", frm="Alice <alice@example.org>", to="devel@example.org"),
             re.sub(rb"(?im)^(from|return-path|sender|to|cc|delivered-to):", rb"X-Old-\1:", raw(jp[0]).replace(b"\r\n", b"\n")),
             make_msg("third", frm="Bob <bob@example.org>", to="devel@example.org", body="From here on\n>From there\n")]
    posts[1] = b"From: Alice <alice@example.org>\nTo: devel@example.org\n" + posts[1]
    for p in posts:
        p = b"Return-Path: <alice@example.org>\n" + p        # mlmmj's envelope sender
        subprocess.run(["/usr/bin/mlmmj-receive", "-F", "-L", ld], input=p, capture_output=True, timeout=60)
    time.sleep(0.5)
    sink.terminate()
    sink.wait()
    return ld


ld = mlmmj_list()
if not ld:
    t.skip("mlmmj import", "mlmmj or smtp-sink is not installed")
else:
    arch = sorted(int(x) for x in os.listdir(os.path.join(ld, "archive")))
    t.eq(arch, [1, 2, 3], "mlmmj archived the three posts it received")
    inst = Instance()
    r = inst.run("import", "mlmmj", ld, "--dry-run")
    out = r.stdout.decode()
    t.ok(r.returncode == 0 and "members: 4 (regular 2, digest 1, no mail 1" in out and "posts: 3" in out,
         "dry run prints members by mode and posts", out + r.stderr.decode())
    t.ok("control/notifysub" in out and "control/relayhost" in out, "unmapped control files are named", out)
    t.ok("devel" not in lists(inst), "dry run creates nothing")
    r = inst.run("import", "mlmmj", ld)
    t.ok(r.returncode == 0, "import mlmmj exits 0", r.stderr.decode())
    m = members(inst, "devel")
    t.eq(sorted(m), ["alice@example.org", "bob@example.org", "dora@example.org", "nora@example.org"], "the subscribers are members")
    t.ok("digest" in m["dora@example.org"] and "nomail" in m["nora@example.org"] and not m["alice@example.org"],
         "digest and no-mail subscribers keep their mode", m)
    t.ok(all(raw(os.path.join(ld, "archive", str(n))) == raw(inst.path("spool", "devel", "archive", str(n))) for n in arch),
         "posts are byte for byte mlmmj's archive, same numbers")
    t.eq(inst.check("config", "devel", "subject_tag").strip(), "[devel]", "control/prefix is the subject tag")
    t.eq(inst.check("config", "devel", "post_policy").strip(), "members", "control/subonlypost: members only")
    t.eq(inst.check("config", "devel", "owners").strip(), "owner@example.org", "control/owner is the owner")
    t.eq(inst.queue(), [], "nothing was mailed during the import")
    r = inst.deliver("devel", make_msg("after", frm="alice@example.org", to=f"devel@{DOMAIN}"), sender="alice@example.org")
    t.ok(r.returncode == 0 and inst.archive_numbers("devel")[-1] == 4, "the next post is number 4", r.stderr.decode())
    r = inst.run("import", "mlmmj", ld)
    t.ok(r.returncode == 64 and b"exists" in r.stderr, "importing onto an existing list is refused without --merge", r.stderr.decode())

# ---------------------------------------------------------------- fml
fml = os.path.join(work, "elena")
os.makedirs(os.path.join(fml, "spool"))
with open(os.path.join(fml, "config.ph"), "w") as f:
    f.write('# fml config.ph\n$MAIL_LIST = "elena\\@fml.example";\n$MAINTAINER = \'elena-admin@fml.example\';\n'
            '$PERMIT_POST_FROM = "members_only";\n$SUBJECT_TAG_TYPE = "[:]";\n$BRACKET = "Elena";\n'
            '$INCOMING_MAIL_SIZE_LIMIT = 204800;\n$MAX_MEMBER_LIMIT = 100;\n'
            '&DEFINE_FIELD_FORCED(\'reply-to\', $MAIL_LIST);\n1;\n')
with open(os.path.join(fml, "actives"), "w") as f:
    f.write("# actives\nfuka@fml.example\ndig@fml.example m=3u\nskip@fml.example s=1\n#off@fml.example\n##BYE gone@fml.example\n")
with open(os.path.join(fml, "members"), "w") as f:
    f.write("fuka@fml.example\ndig@fml.example\nskip@fml.example\noff@fml.example\nposter@fml.example\n##BYE gone@fml.example\n")
with open(os.path.join(fml, "members-admin"), "w") as f:
    f.write("fuka@fml.example\n")
with open(os.path.join(fml, "moderators"), "w") as f:
    f.write("mod@fml.example\n")
with open(os.path.join(fml, "seq"), "w") as f:
    f.write("7\n")
fml_posts = {1: raw(jp[0]), 2: raw(jp[1]), 3: make_msg("plain"), 5: raw(jp[-1])}
for n, data in fml_posts.items():
    with open(os.path.join(fml, "spool", str(n)), "wb") as f:
        f.write(data)
inst = Instance()
r = inst.run("import", "fml", fml)
out = r.stdout.decode()
t.ok(r.returncode == 0, "import fml exits 0", r.stderr.decode() + out)
t.ok("$MAX_MEMBER_LIMIT" in out and "$MAINTAINER" in out and "DEFINE_FIELD_FORCED" in out,
     "unmapped fml variables and statements are named", out)
m = members(inst, "elena")
t.eq(sorted(m), ["dig@fml.example", "fuka@fml.example", "off@fml.example", "poster@fml.example", "skip@fml.example"],
     "actives and members become members; ##BYE is left out")
t.ok("digest" in m["dig@fml.example"] and "post-only" in m["skip@fml.example"] and "post-only" in m["poster@fml.example"]
     and "nomail" in m["off@fml.example"] and not m["fuka@fml.example"], "m= digest, s=1 and members-only are post-only, #addr no mail", m)
t.eq(inst.archive_numbers("elena"), [1, 2, 3, 5], "fml post numbers are kept")
t.ok(all(raw(inst.path("spool", "elena", "archive", str(n))) == d for n, d in fml_posts.items()),
     "Japanese posts are byte for byte the spool files")
t.eq(inst.check("config", "elena", "subject_tag").strip(), "[Elena:%05d]", "[:] with $BRACKET is the subject tag")
t.eq(inst.check("config", "elena", "max_size").strip(), "204800", "$INCOMING_MAIL_SIZE_LIMIT is max_size")
t.eq(inst.check("config", "elena", "owners").strip(), "fuka@fml.example", "members-admin are the owners")
t.eq(inst.check("config", "elena", "moderators").strip(), "mod@fml.example", "moderators carried")
r = inst.deliver("elena", make_msg("next", frm="fuka@fml.example", to=f"elena@{DOMAIN}"), sender="fuka@fml.example")
t.ok(r.returncode == 0 and inst.archive_numbers("elena")[-1] == 8, "numbering continues after seq (7)", r.stderr.decode())
inst.clear_queue()
r = inst.run("deliver", "--ctl", "elena", "-f", "fuka@fml.example",
             stdin=ctl_mail("search テスト本文", frm="fuka@fml.example", to=f"elena-ctl@{DOMAIN}"))
replies = [body_text(q["msg"]) for q in inst.queue() if "fuka@fml.example" in q["rcpts"]]
t.ok(r.returncode == 0 and any(re.search(r"(?m)^\s+1\s", b) for b in replies) and not any(re.search(r"(?m)^\s+2\s", b) for b in replies),
     "an imported Japanese post is found by search (post 1, not 2)", replies)

# export and the round trip
r = inst.run("export", "elena", "--mbox")
mbox = r.stdout
t.ok(r.returncode == 0 and mbox.startswith(b"From "), "export --mbox writes an mbox")
t.ok(all(re.fullmatch(rb"From \S+ (Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ 1-3]\d \d\d:\d\d:\d\d \d{4}", l)
         for l in mbox.split(b"\n") if l.startswith(b"From ")), "From_ lines are in asctime form",
     [l for l in mbox.split(b"\n") if l.startswith(b"From ")])
r = inst.run("export", "elena", "--mbox", env={"LC_ALL": "C.UTF-8", "LANG": "ja_JP.UTF-8", "LC_TIME": "ja_JP.UTF-8"})
t.ok(r.stdout == mbox, "the export does not depend on the locale")
import mailbox
mpath = os.path.join(work, "elena.mbox")
with open(mpath, "wb") as f:
    f.write(mbox)
inst.newlist("copy")
t.eq(len(mailbox.mbox(mpath)), len(inst.archive_numbers("elena")), "Python's mailbox module reads the export: every post")
r = inst.run("import", "mbox", mpath, "--as", "copy")
t.ok(r.returncode == 0, "import mbox of the export exits 0", r.stderr.decode())
src = [raw(inst.path("spool", "elena", "archive", str(n))) for n in inst.archive_numbers("elena")]
dst = [raw(inst.path("spool", "copy", "archive", str(n))) for n in inst.archive_numbers("copy")]
t.ok(src == dst, "export then import mbox gives the same posts back, byte for byte", f"{len(src)} vs {len(dst)}")
r = inst.run("export", "elena", "--members")
rows = list(csv.DictReader(io.StringIO(r.stdout.decode())))
t.ok(r.returncode == 0 and list(rows[0].keys()) == ["address", "name", "delivery", "digest"], "export --members: address,name,delivery,digest")
byaddr = {x["address"]: x for x in rows}
t.ok(byaddr["dig@fml.example"]["digest"] == "yes" and byaddr["off@fml.example"]["delivery"] == "nomail"
     and byaddr["skip@fml.example"]["delivery"] == "post_only", "the CSV keeps the modes", rows)

# --merge: into a list that has members and a post already
inst.newlist("merged")
inst.subscribe("merged", "fuka@fml.example", "old@fml.example")
inst.check("subscribe", "merged", "dig@fml.example")
r = inst.deliver("merged", make_msg("existing", frm="old@fml.example", to=f"merged@{DOMAIN}"), sender="old@fml.example")
inst.clear_queue()
r = inst.run("import", "fml", fml, "--as", "merged", "--merge")
m = members(inst, "merged")
t.ok(r.returncode == 0 and "old@fml.example" in m and "poster@fml.example" in m and "digest" in m["dig@fml.example"],
     "--merge adds the members, keeps the old ones and takes the imported modes", r.stderr.decode())
t.eq(inst.archive_numbers("merged"), [1, 2, 3, 4, 5], "--merge into a list with posts: numbered after its last post")
t.ok(b"] existing" in raw(inst.path("spool", "merged", "archive", "1")), "the list's own post stays number 1")
t.eq(inst.queue(), [], "--merge mails nobody either")

# ---------------------------------------------------------------- mbox quoting
inst2 = Instance()
inst2.newlist("team")
mb = os.path.join(work, "rd.mbox")
with open(mb, "wb") as f:
    f.write(b"From a@example.org Mon Nov 23 10:00:00 2026\n" + make_msg("late").replace(b"Mon, 23 Nov 2026 10:00:00", b"Tue, 24 Nov 2026 10:00:00")
            + b"\nFrom b@example.org Mon Nov 23 09:00:00 2026\n" + make_msg("early", body=">From the start\n>>From quoted\nFrom-ish\n") + b"\n")
r = inst2.run("import", "mbox", mb, "--as", "team")
t.ok(r.returncode == 0, "import mbox (mboxrd) exits 0", r.stderr.decode())
first = raw(inst2.path("spool", "team", "archive", "1"))
t.ok(b"Subject: early" in first, "mbox posts are numbered in date order")
t.ok(b"\nFrom the start\n>From quoted\nFrom-ish\n" in first and first.endswith(b"From-ish\n"), "mboxrd >From quoting is undone", first)
r = inst2.run("import", "mbox", mb, "--as", "nolist")
t.eq(r.returncode, 67, "import mbox into a list that does not exist exits 67")

# ---------------------------------------------------------------- Mailman 2.1
mm2 = os.path.join(work, "mm2")
os.makedirs(mm2)
desc = "開発者の会".encode("euc-jp")
with open(os.path.join(mm2, "config"), "wb") as f:
    f.write(b"## \"Dev\" mailing list configuration settings -*- python -*-\n\n"
            b"real_name = 'Dev'\nhost_name = 'mm.example'\nowner = ['boss@mm.example', 'Boss2@MM.example']\n"
            b"moderator = ['mod@mm.example']\ndescription = '" + "".join(f"\\x{b:02x}" for b in desc).encode() + b"'\n"
            b"info = \"\"\"Long text\nover 'two' lines\"\"\"\nsubject_prefix = '[%(real_name)s %d] '\n"
            b"max_message_size = 40  # KB\ngeneric_nonmember_action = 1\ndefault_member_moderation = True\n"
            b"subscribe_policy = 2\narchive_private = 0\nreply_goes_to_list = 1\npreferred_language = 'ja'\n"
            b"bounce_score_threshold = 5.0\ndigestable = True\nmsg_footer = \"\"\"--\n%(real_name)s list\"\"\"\n"
            b"ban_list = ['^.*@spam\\\\.example$']\naccept_these_nonmembers = ['friend@x.example']\n"
            b"hold_these_nonmembers = ['^hold-.*@x\\\\.example$', '@otherlist']\n"
            b"reject_these_nonmembers = ['rej@x.example', '^[bad']\ndiscard_these_nonmembers = ['spam@x.example']\n"
            b"header_filter_rules = [('^X-Spam-Flag: YES', 7, False),"
            b" ('^subject:.*viagra\\n^X\\\\-Mailer: bad;mailer', 3, False), ('^(to|cc):.*x', 2, False),"
            b" ('X-Foo: bar', 0, False)]\n"
            b"send_reminders = 0\n")
with open(os.path.join(mm2, "regular"), "w") as f:
    f.write("Taro Yamada <taro@mm.example>\nplain@mm.example\n")
with open(os.path.join(mm2, "digest"), "w") as f:
    f.write("\"Digest, Reader\" <dr@mm.example>\n")
with open(os.path.join(mm2, "archive.mbox"), "wb") as f:
    for p in (raw(jp[0]), make_msg("mm2 post")):
        f.write(b"From x@mm.example Mon Nov 23 09:00:00 2026\n" + p.rstrip(b"\n") + b"\n\n")
inst3 = Instance()
r = inst3.run("import", "mailman2", mm2)
out = r.stdout.decode()
t.ok(r.returncode == 0, "import mailman2 exits 0", r.stderr.decode() + out)
c = lambda k: inst3.check("config", "dev", k).strip()
t.eq([c("subject_tag"), c("max_size"), c("post_policy"), c("new_member_moderation"), c("subscribe_policy"),
      c("archive_access"), c("reply_to"), c("language"), c("bounce_threshold")],
     ["[%s %d]", "40960", "members-hold", "yes", "approve", "public", "list", "ja", "5"], "Mailman 2.1 settings are mapped")
t.eq(c("description"), "開発者の会", "an EUC-JP description (\\x escapes) becomes UTF-8")
t.eq(c("owners"), "boss@mm.example,Boss2@mm.example", "owners carried")
t.ok(c("footer") == "--\n{list} list" or "{list}" in c("footer"), "msg_footer with %(real_name)s becomes {list}", c("footer"))
t.ok("info" in out and "send_reminders" in out, "unmapped Mailman settings are named", out)
t.eq([c("banned"), c("accept_nonmembers"), c("hold_nonmembers"), c("reject_nonmembers"), c("discard_nonmembers")],
     ["^.*@spam\\.example$", "friend@x.example", "^hold-.*@x\\.example$", "rej@x.example", "spam@x.example"],
     "ban_list and accept/hold/reject/discard_these_nonmembers become banned and the four nonmember rules")
t.eq(c("header_filters"), "X-Spam-Flag: ^YES -> hold; subject: ^.*viagra -> discard; X-Mailer: ^bad\\;mailer -> discard",
     "header_filter_rules become header_filters (one rule a pattern line, X\\- unescaped, ';' escaped)")
t.ok("'@otherlist'" in out and "^(to|cc):.*x" in out and "action 0" in out and "'^[bad'" in out,
     "what cannot be mapped is named (another list's members, a regex over several headers, defer, a bad regex),"
     " the other entries kept", out)
m = members(inst3, "dev")
t.ok(set(m) == {"taro@mm.example", "plain@mm.example", "dr@mm.example"} and "digest" in m["dr@mm.example"], "regular and digest members", m)
names = {x["address"]: x["name"] for x in csv.DictReader(io.StringIO(inst3.check("export", "dev", "--members")))}
t.eq(names.get("dr@mm.example"), "Digest, Reader", "member names are kept")
t.eq(raw(inst3.path("spool", "dev", "archive", "1")), raw(jp[0]).rstrip(b"\n") + b"\n", "the Mailman archive's Japanese post is byte-exact")

# ---------------------------------------------------------------- Mailman 3
mm3 = os.path.join(work, "mm3")
os.makedirs(mm3)
with open(os.path.join(mm3, "config.json"), "w") as f:
    f.write('{"acceptable_aliases": [], "admin_immed_notify": true, "archive_policy": "private",'
            ' "bounce_score_threshold": 5, "default_member_action": "defer", "default_nonmember_action": "reject",'
            ' "description": "Caf\\u00e9 \\ud83d\\ude00 list", "display_name": "Ant", "fqdn_listname": "ant@mm3.example",'
            ' "http_etag": "\\"abc\\"", "max_message_size": 100, "preferred_language": "en",'
            ' "reply_goes_to_list": "no_munging", "subject_prefix": "[Ant] ", "subscription_policy": "confirm_then_moderate",'
            ' "posting_pipeline": "default-posting-pipeline", "accept_these_nonmembers": ["gw@mm3.example"]}')
with open(os.path.join(mm3, "header-matches.json"), "w") as f:
    f.write('{"entries": [{"header": "x-spam-flag", "pattern": "^yes", "action": "hold"},'
            ' {"header": "subject", "pattern": "[unclosed", "action": "reject"},'
            ' {"header": "x-list", "pattern": "a;b", "action": "discard"},'
            ' {"header": "x-foo", "pattern": "x", "action": "defer"}], "total_size": 4}')
with open(os.path.join(mm3, "members.csv"), "w") as f:
    f.write("email,display_name,role,delivery_mode,delivery_status,moderation_action\n"
            "a@mm3.example,Ann,member,regular,enabled,\nd@mm3.example,,member,mime_digests,enabled,\n"
            "n@mm3.example,,member,regular,by_user,hold\nowner@mm3.example,,owner,,,\n"
            "nm1@mm3.example,,nonmember,,,hold\nnm2@mm3.example,,nonmember,,,discard\n"
            "nm3@mm3.example,,nonmember,,,reject\nnm4@mm3.example,,nonmember,,,accept\nnm5@mm3.example,,nonmember,,,defer\n")
inst4 = Instance()
r = inst4.run("import", "mailman3", mm3)
out = r.stdout.decode()
t.ok(r.returncode == 0, "import mailman3 exits 0", r.stderr.decode() + out)
c = lambda k: inst4.check("config", "ant", k).strip()
t.eq([c("archive_access"), c("post_policy"), c("subscribe_policy"), c("max_size"), c("subject_tag"), c("owners")],
     ["members", "members", "approve", "102400", "[Ant]", "owner@mm3.example"], "Mailman 3 settings are mapped")
t.eq(c("description"), "Café 😀 list", "JSON escapes and surrogate pairs decoded")
t.ok("admin_immed_notify" in out and "posting_pipeline" in out, "unmapped Mailman 3 settings are named", out)
t.eq([c("accept_nonmembers"), c("hold_nonmembers"), c("reject_nonmembers"), c("discard_nonmembers")],
     ["gw@mm3.example nm4@mm3.example", "nm1@mm3.example", "nm3@mm3.example", "nm2@mm3.example"],
     "Mailman 3 nonmembers' moderation actions (and accept_these_nonmembers) become the nonmember rules")
t.eq(c("header_filters"), "x-spam-flag: ^yes -> hold; x-list: a\\;b -> discard",
     "header-matches.json becomes header_filters")
t.ok("[unclosed" in out and "defer" in out, "a bad regex and a defer rule are named as not mapped (the others kept)", out)
m = members(inst4, "ant")
t.ok(set(m) == {"a@mm3.example", "d@mm3.example", "n@mm3.example"} and "digest" in m["d@mm3.example"]
     and {"nomail", "moderated"} <= m["n@mm3.example"], "members.csv modes (digest, no mail, moderated)", m)

# ---------------------------------------------------------------- bad input
bad = Instance()
r = bad.run("import", "fml", os.path.join(work, "nothing-here"))
t.ok(r.returncode == 66 and b"nothing-here" in r.stderr, "a missing source exits 66 naming it", r.stderr.decode())
b1 = os.path.join(work, "bad1")
shutil.copytree(fml, b1)
with open(os.path.join(b1, "config.ph"), "a") as f:
    f.write('$BROKEN = "no end;\n')
r = bad.run("import", "fml", b1, "--as", "b1")
t.ok(r.returncode == 65 and b"config.ph:11" in r.stderr, "an unparseable config.ph line exits 65 naming file:line", r.stderr.decode())
t.ok("b1" not in lists(bad) and not os.path.exists(bad.path("spool", "b1")), "nothing was created")
b2 = os.path.join(work, "bad2")
shutil.copytree(fml, b2)
with open(os.path.join(b2, "spool", "4"), "wb") as f:
    f.write(b"\x00\x01 this is not mail\n")
r = bad.run("import", "fml", b2, "--as", "b2")
t.ok(r.returncode == 65 and b"spool/4" in r.stderr, "a spool file that is not mail exits 65 naming it", r.stderr.decode())
t.ok("b2" not in lists(bad) and not os.path.exists(bad.path("spool", "b2")), "a failed import leaves no half list (no row, no files)")
with open(os.path.join(b2, "actives"), "a") as f:
    f.write("not-an-address\n")
r = bad.run("import", "fml", b2, "--as", "b2")
t.ok(r.returncode == 65 and b"actives:7" in r.stderr, "a bad address exits 65 naming file:line", r.stderr.decode())
r = bad.run("import", "fml", b2, "--as", "b2", "--skip-bad")
out = r.stdout.decode()
t.ok(r.returncode == 0 and "actives:7" in out and "spool/4" in out, "--skip-bad imports the rest and reports each bad item", out + r.stderr.decode())
t.eq(bad.archive_numbers("b2"), [1, 2, 3, 5], "--skip-bad: the bad post is left out, the others kept")
b3 = os.path.join(work, "bad3")
shutil.copytree(mm2, b3)
with open(os.path.join(b3, "config"), "ab") as f:
    f.write(b"owner = ['x@y.example'\n")
r = bad.run("import", "mailman2", b3)
t.ok(r.returncode == 65 and b"config:" in r.stderr and "dev" not in lists(bad), "an unparseable config_list line exits 65 naming the file", r.stderr.decode())
b4 = os.path.join(work, "bad4")
os.makedirs(b4)
with open(os.path.join(b4, "config.json"), "w") as f:
    f.write('{"list_name": "x",\n "description": tru}')
r = bad.run("import", "mailman3", b4)
t.ok(r.returncode == 65 and b"config.json:2" in r.stderr, "bad JSON exits 65 naming file:line", r.stderr.decode())
nm = os.path.join(work, "notmbox")
with open(nm, "w") as f:
    f.write("Subject: hi\n\nno From line\n")
r = inst2.run("import", "mbox", nm, "--as", "team")
t.ok(r.returncode == 65 and b"notmbox:1" in r.stderr, "a file that is no mbox exits 65", r.stderr.decode())

shutil.rmtree(work, ignore_errors=True)
t.done()
