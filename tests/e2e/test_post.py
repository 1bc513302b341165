#!/usr/bin/env python3
"""test_post.py - the posting path of `kairan deliver LIST`: headers and
Subject tag as distributed, archive, queued fan-out, each post policy,
size/HTML/attachment policies, refusals with one reply, held posts with
approve/reject, loop checks."""
import os
import re
import email
import email.policy
from email.header import Header
from email.mime.text import MIMEText
from kt import Tap, Instance, make_msg, DOMAIN, corpus_files

t = Tap()
inst = Instance()
inst.newlist("team", owner="owner@example.org")
inst.subscribe("team", "member@example.org", "b@example.org", "c@example.org")
inst.check("subscribe", "team", "digest@example.org", "--digest")
inst.check("subscribe", "team", "alt@example.org", "--nomail")

def queue_for(subject_part):
    return [q for q in inst.queue() if subject_part in str(q["msg"]["Subject"])]

# --- an accepted post
r = inst.deliver("team", b"From MAILER-DAEMON Mon Nov 23 10:00:00 2026\n" +
                 make_msg("Re: Re: [team:00099] first post", extra="Return-Receipt-To: member@example.org\n"))
t.eq(r.returncode, 0, "member post accepted (mbox From_ line tolerated)")
m = inst.archive("team", 1)
t.ok(m is not None, "archived as spool/team/archive/1")
t.eq(str(m["Subject"]), "Re: [team:00001] first post", "one tag after Re: folding, old tag replaced")
t.eq(m["X-ML-Name"], "team", "X-ML-Name")
t.eq(m["X-Mail-Count"], "1", "X-Mail-Count")
t.eq(m["List-Id"], f"<team.{DOMAIN}>", "List-Id")
t.eq(m["List-Post"], f"<mailto:team@{DOMAIN}>", "List-Post")
t.ok(f"team-ctl@{DOMAIN}" in m["List-Help"] and "help" in m["List-Help"], "List-Help points to -ctl")
t.ok("subscribe" in m["List-Subscribe"] and "unsubscribe" in m["List-Unsubscribe"], "List-Subscribe and List-Unsubscribe")
t.ok(m["List-Archive"] is not None, "List-Archive")
t.eq(m["Precedence"], "bulk", "Precedence: bulk")
t.ok(m["Return-Receipt-To"] is None, "configured header removal (Return-Receipt-To)")
t.ok(m.get_content().strip() == "Hello list.", "body kept")
q = queue_for("first post")
t.eq(len(q), 1, "one queued message for the fan-out")
t.eq(sorted(q[0]["rcpts"]), ["b@example.org", "c@example.org", "member@example.org"],
     "recipients: members with delivery on (not digest, not post-only)")
t.eq(q[0]["sender"], f"team-admin@{DOMAIN}", "envelope sender LIST-admin@domain")
t.eq(q[0]["raw"], open(inst.path("spool", "team", "archive", "1"), "rb").read(), "queued copy is exactly the archived form")
r = inst.run("queue")
t.ok(r.returncode == 0 and q[0]["id"].encode() in r.stdout and b"c@example.org" in r.stdout, "kairan queue lists it")

# --- Japanese subjects
jis = Header("日本語の件名テスト", "iso-2022-jp").encode()
r = inst.deliver("team", make_msg(jis))
m = inst.archive("team", 2)
t.eq(str(m["Subject"]), "[team:00002] 日本語の件名テスト", "ISO-2022-JP Subject readable after tagging")
raw = open(inst.path("spool", "team", "archive", "2"), "rb").read()
subj_raw = re.search(rb"^Subject:(.*(?:\n[ \t].*)*)", raw, re.M).group(1)
t.ok(b"iso-2022-jp" in subj_raw.lower() and all(b < 128 for b in subj_raw), "Subject re-encoded as ISO-2022-JP encoded words, 7-bit")
utf = Header("Re: 会議のお知らせ", "utf-8").encode()
inst.deliver("team", make_msg(utf))
t.eq(str(inst.archive("team", 3)["Subject"]), "Re: [team:00003] 会議のお知らせ", "UTF-8 Subject readable after tagging")

# --- reply_to and send_to_author
inst.config("team", "reply_to", "list")
inst.config("team", "send_to_author", "no")
inst.deliver("team", make_msg("reply-to test"))
m = inst.archive("team", 4)
t.eq(m["Reply-To"], f"team@{DOMAIN}", "reply_to = list sets Reply-To")
t.ok("member@example.org" not in queue_for("reply-to test")[0]["rcpts"], "send_to_author = no leaves out the author")
inst.config("team", "reply_to", "author")
inst.config("team", "send_to_author", "yes")

# --- post policies
inst.clear_queue()
r = inst.deliver("team", make_msg("from a stranger", frm="stranger@example.net"), sender="stranger@example.net")
t.eq(r.returncode, 0, "members policy: stranger's post answered with exit 0")
t.eq(inst.archive_numbers("team"), [1, 2, 3, 4], "stranger's post not archived")
replies = inst.queue()
t.ok(len(replies) == 1 and replies[0]["rcpts"] == ["stranger@example.net"], "one refusal reply to the stranger")
rep = replies[0]["msg"]
t.ok("only members" in rep.get_body(("plain",)).get_content(), "the reply explains the refusal")
t.eq(rep["Auto-Submitted"], "auto-replied", "refusal marked Auto-Submitted")
t.eq(replies[0]["sender"], f"team-admin@{DOMAIN}", "refusal sent from LIST-admin")

inst.clear_queue()
r = inst.deliver("team", make_msg("automatic stranger", frm="robot@example.net", extra="Auto-Submitted: auto-generated\n"), sender="robot@example.net")
t.ok(r.returncode == 0 and inst.queue() == [], "no reply to an automatic sender")
r = inst.deliver("team", make_msg("bulk stranger", frm="robot@example.net", extra="Precedence: bulk\n"), sender="robot@example.net")
t.ok(r.returncode == 0 and inst.queue() == [], "no reply to Precedence: bulk")

inst.subscribe("team", "poster@example.org")
inst.check("subscribe", "team", "poster-alias@example.org", "--nomail")
r = inst.deliver("team", make_msg("from alt address", frm="poster-alias@example.org"), sender="poster-alias@example.org")
t.ok(r.returncode == 0 and inst.archive_numbers("team")[-1] == 5, "a post-only alternative address may post")

inst.config("team", "post_policy", "anyone")
inst.deliver("team", make_msg("anyone may post", frm="stranger@example.net"), sender="stranger@example.net")
t.eq(inst.archive_numbers("team")[-1], 6, "anyone policy: stranger's post distributed")

inst.config("team", "post_policy", "members-hold")
inst.clear_queue()
inst.deliver("team", make_msg("held stranger", frm="stranger@example.net"), sender="stranger@example.net")
t.eq(inst.archive_numbers("team")[-1], 6, "members-hold: stranger's post not distributed")
held = inst.check("held", "team")
t.ok("stranger@example.net" in held and "held stranger" in held, "kairan held lists it")
hid = held.split()[0]
notices = inst.queue()
t.ok(any(q["rcpts"] == ["owner@example.org"] and hid in str(q["msg"]["Subject"]) for q in notices),
     "the moderators (owners) get a notice naming the ID")
t.ok(any(q["msg"].get_content_type() == "multipart/mixed" and
         any(p.get_content_type() == "message/rfc822" for p in q["msg"].iter_parts()) for q in notices),
     "the notice carries the held post")
t.ok(os.path.exists(inst.path("spool", "team", "held", hid)), "held post kept in spool/LIST/held/ID")
r = inst.run("approve", "team", hid)
t.ok(r.returncode == 0 and inst.archive_numbers("team")[-1] == 7, "approve distributes it as the next number", r.stderr)
t.eq(str(inst.archive("team", 7)["Subject"]), "[team:00007] held stranger", "approved post tagged")
t.ok(not os.path.exists(inst.path("spool", "team", "held", hid)), "approved post leaves the held store")
r = inst.run("approve", "team", hid)
t.eq(r.returncode, 67, "approving the same ID twice fails")

inst.deliver("team", make_msg("to be rejected", frm="stranger@example.net"), sender="stranger@example.net")
hid = inst.check("held", "team").split()[0]
inst.clear_queue()
r = inst.run("reject", "team", hid, "--reason", "off topic")
t.ok(r.returncode == 0 and "no held posts" in inst.check("held", "team"), "reject drops the held post")
rej = inst.queue()
t.ok(len(rej) == 1 and rej[0]["rcpts"] == ["stranger@example.net"] and "off topic" in rej[0]["msg"].get_body(("plain",)).get_content(),
     "the sender is told the reason")
t.eq(inst.run("reject", "team", "../../etc").returncode, 67, "reject with a path as ID is refused")

inst.config("team", "post_policy", "moderated")
inst.deliver("team", make_msg("member in moderated list"))
t.eq(inst.archive_numbers("team")[-1], 7, "moderated: even a member's post is held")
inst.config("team", "post_policy", "members")

# --- size, HTML, attachments
inst.clear_queue()
inst.config("team", "max_size", "2000")
inst.deliver("team", make_msg("too big", body="x" * 5000 + "\n"))
t.eq(inst.archive_numbers("team")[-1], 7, "post over max_size not distributed")
t.ok(any("larger than" in q["msg"].get_body(("plain",)).get_content() for q in inst.queue()), "size refusal explains the limit")
inst.config("team", "oversize", "hold")
inst.clear_queue()
held_before = inst.check("held", "team")
inst.deliver("team", make_msg("too big but held", body="x" * 5000 + "\n"))
t.ok(inst.archive_numbers("team")[-1] == 7 and "too big but held" in inst.check("held", "team")
     and "too big but held" not in held_before, "oversize = hold: a post over max_size waits for a moderator")
t.ok(any(q["msg"]["X-Kairan-Notice"] == "held_notice" for q in inst.queue())
     and not any(q["msg"]["X-Kairan-Notice"] == "refused" for q in inst.queue()),
     "the moderators are told, the sender gets no refusal")
inst.config("team", "oversize", "refuse")
inst.config("team", "max_size", "10485760")

html = (b"From: member@example.org\nTo: team@" + DOMAIN.encode() + b"\nSubject: html only\nMIME-Version: 1.0\n"
        b"Content-Type: text/html; charset=utf-8\n\n<p>hello</p>\n")
inst.config("team", "html", "reject")
inst.deliver("team", html)
t.eq(inst.archive_numbers("team")[-1], 7, "html = reject refuses HTML-only mail")
inst.config("team", "html", "keep")
inst.deliver("team", html)
t.eq(inst.archive_numbers("team")[-1], 8, "html = keep distributes it")

att = (b"From: member@example.org\nTo: team@" + DOMAIN.encode() + b"\nSubject: with attachment\nMIME-Version: 1.0\n"
       b"Content-Type: multipart/mixed; boundary=ZZ\n\n--ZZ\nContent-Type: text/plain\n\nsee attached\n"
       b"--ZZ\nContent-Type: application/x-msdownload; name=evil.exe\nContent-Disposition: attachment; filename=evil.exe\n"
       b"Content-Transfer-Encoding: base64\n\nTVqQAAMAAAAEAAAA\n--ZZ--\n")
inst.config("team", "attachments", "strip")
inst.config("team", "allowed_types", "text/plain")
inst.deliver("team", att)
m = inst.archive("team", 9)
types = [p.get_content_type() for p in m.walk()]
t.ok("application/x-msdownload" not in types, "strip removes the disallowed part")
texts = " ".join(p.get_content() for p in m.walk() if p.get_content_type() == "text/plain")
t.ok("see attached" in texts and "evil.exe" in texts, "strip keeps the text and adds a note naming what was removed")
inst.config("team", "attachments", "reject")
inst.clear_queue()
inst.deliver("team", att)
t.eq(inst.archive_numbers("team")[-1], 9, "attachments = reject refuses the post")
t.ok(any("attachments" in q["msg"].get_body(("plain",)).get_content() for q in inst.queue()), "and says why")
inst.config("team", "attachments", "keep")

# --- footer
inst.config("team", "footer", "-- \nteam list <{{address}}>, post {{number}}\nleave: {{unsubscribe}}")
listing = inst.check("config", "team")
t.ok("footer = -- \\nteam list <{{address}}>, post {{number}}\\nleave: {{unsubscribe}}" in listing,
     "kairan config shows the footer on one line, line ends as \\n")
t.eq(inst.check("config", "team", "footer"), "-- \nteam list <{{address}}>, post {{number}}\nleave: {{unsubscribe}}\n",
     "kairan config team footer prints it as it is")
inst.clear_queue()
inst.deliver("team", make_msg("with footer", body="Hello all.\n"))
n = inst.archive_numbers("team")[-1]
want = f"Hello all.\n-- \nteam list <team@{DOMAIN}>, post {n}\nleave: mailto:team-ctl@{DOMAIN}?body=unsubscribe\n"
t.eq(inst.archive("team", n).get_content(), want, "plain post: the footer is appended, placeholders filled")
t.eq(inst.queue()[0]["msg"].get_content(), want, "the copy sent out has it too")
alt = (b"From: member@example.org\nTo: team@" + DOMAIN.encode() + b"\nSubject: alt\nMIME-Version: 1.0\n"
       b"Content-Type: multipart/alternative; boundary=AA\n\n--AA\nContent-Type: text/plain\n\nplain\n"
       b"--AA\nContent-Type: text/html\n\n<p>html</p>\n--AA--\n")
inst.deliver("team", alt)
m = inst.archive("team", inst.archive_numbers("team")[-1])
parts = list(m.iter_parts())
t.ok(m.get_content_type() == "multipart/mixed" and len(parts) == 2
     and parts[0].get_content_type() == "multipart/alternative" and "team list" in parts[1].get_content(),
     "multipart/alternative: wrapped in multipart/mixed with the footer part after it", m.as_string()[:600])
inst.config("team", "footer", "\u30d5\u30c3\u30bf\u30fc {{list}}")
jp = (b"From: member@example.org\nTo: team@" + DOMAIN.encode() + b"\nSubject: jp\nMIME-Version: 1.0\n"
      b"Content-Type: text/plain; charset=ISO-2022-JP\n\n\x1b$B$3$s$K$A$O\x1b(B\n")
inst.deliver("team", jp)
m = inst.archive("team", inst.archive_numbers("team")[-1])
t.ok(m.get_content_charset() == "iso-2022-jp" and m.get_content() == "\u3053\u3093\u306b\u3061\u306f\n\u30d5\u30c3\u30bf\u30fc team\n",
     "ISO-2022-JP post: footer in the same charset", m.as_string()[-300:])
missing = []
checked = 0
jp_files = corpus_files("japanese")
for path in jp_files:
    before = inst.archive_numbers("team")[-1]
    r = inst.deliver("team", open(path, "rb").read())
    if r.returncode != 0 or inst.archive_numbers("team")[-1] != before + 1:
        continue                     # refused by policy (size, HTML): not this test's business
    m = inst.archive("team", before + 1)
    checked += 1
    texts = [p.get_content() for p in m.walk() if p.get_content_type() == "text/plain"
             and not p.is_attachment()]
    if not any("\u30d5\u30c3\u30bf\u30fc team" in x for x in texts):
        missing.append(os.path.basename(path))
if jp_files:
    t.ok(checked > 0 and not missing,
         f"every Japanese corpus post that was distributed shows the footer ({checked} of {len(jp_files)})", missing)
else:
    t.skip("footer on the Japanese corpus", "../shared/corpus is absent")
inst.config("team", "footer", "")
inst.deliver("team", make_msg("no footer", body="Plain.\n"))
t.eq(inst.archive("team", inst.archive_numbers("team")[-1]).get_content(), "Plain.\n", "empty footer: the body is untouched")

# --- banned senders: dropped, no reply, logged
inst.config("team", "banned", "member@example.org")
inst.clear_queue()
n = inst.archive_numbers("team")[-1]
r = inst.deliver("team", make_msg("from a banned member"))
t.ok(r.returncode == 0 and inst.archive_numbers("team")[-1] == n and inst.queue() == [],
     "a banned sender's post is dropped without a reply (exit 0)", r.stderr)
t.ok("dropped mail from banned <member@example.org>" in inst.log(), "and the drop is logged")
r = inst.deliver("team", make_msg("forged From", frm="someone@example.net"), sender="member@example.org")
t.ok(inst.archive_numbers("team")[-1] == n, "a banned envelope sender is enough")
inst.config("team", "banned", "")
inst.deliver("team", make_msg("unbanned"))
t.eq(inst.archive_numbers("team")[-1], n + 1, "posts flow again once the ban is lifted")

# --- loops
n = inst.archive_numbers("team")[-1]
inst.clear_queue()
looped = inst.archive("team", 1).as_bytes()
r = inst.deliver("team", looped)
t.ok(r.returncode == 0 and inst.archive_numbers("team")[-1] == n and inst.queue() == [], "own X-ML-Name: dropped silently")
many = make_msg("hops", extra="".join(f"Received: from h{i}\n" for i in range(31)))
r = inst.deliver("team", many)
t.ok(r.returncode == 0 and inst.archive_numbers("team")[-1] == n, "more than 30 Received: dropped")
r = inst.deliver("team", make_msg("bounce"), sender="MAILER-DAEMON@example.org")
t.ok(r.returncode == 0 and inst.archive_numbers("team")[-1] == n and inst.queue() == [], "MAILER-DAEMON sender dropped")
r = inst.deliver("team", make_msg("null"), sender="")
t.ok(r.returncode == 0 and inst.archive_numbers("team")[-1] == n, "null sender dropped")
t.ok("dropped" in inst.log(), "drops are logged")

# --- exit codes
t.eq(inst.deliver("nosuch", make_msg("x")).returncode, 67, "unknown list: 67")
t.eq(inst.deliver("team", b"").returncode, 65, "empty input: 65")
t.eq(inst.deliver("team", b"this is not a mail at all, no header\n").returncode, 65, "input without a header: 65")
t.eq(inst.run("deliver").returncode, 64, "deliver without a list: 64")
t.done()
