"""test_archive_threads.py - the archive's thread order (lib/archive.c,
archive_threads), as the web's thread view shows it: the parent is the post
named by In-Reply-To, else the last References entry known to the archive;
newest thread first, replies depth-first under their parent, and a reply
can never sit above the post it answers (no cycles)."""
import re

from kt import *

t = Tap()
inst = Instance()
inst.newlist("team")
inst.subscribe("team", "member@example.org")
inst.config("team", "post_policy", "anyone")
inst.config("team", "archive_access", "public")

def post(subject, msgid, extra=""):
    r = inst.deliver("team", make_msg(subject=subject, msgid=f"<{msgid}@example.org>", extra=extra))
    t.ok(r.returncode == 0, f"post {subject!r} accepted", r.stderr)

post("A", "a")                                                                     # 1
post("B", "b", "In-Reply-To: <a@example.org>\n")                                   # 2
post("C", "c", "References: <a@example.org> <b@example.org>\n")                    # 3
post("D", "d", "In-Reply-To: <later@example.org>\n")                               # 4: its parent comes later
post("E", "e", "In-Reply-To: <d@example.org>\n")                                   # 5
post("F", "f", "In-Reply-To: <unknown@example.org>\nReferences: <a@example.org> <gone@example.org>\n")  # 6
post("G", "later", "In-Reply-To: <e@example.org>\n")                               # 7: answers E, named by D

with WebServer(inst) as web:
    c = WebClient(inst, server=web)
    r = c.get("/list/team/archive/thread")
    t.eq(r.status, 200, "the thread view answers")
    rows = [(int(n), int(d)) for d, n in re.findall(r'<li class="d(\d+)"><span class="num">#(\d+)</span>', r.text)]
    # newest thread first: D (4) before A (1); D -> E -> G; A -> B -> C, A -> F
    t.eq(rows, [(4, 0), (5, 1), (7, 2), (1, 0), (2, 1), (3, 2), (6, 1)],
         "threads: newest first, In-Reply-To, then the last known References entry, replies depth-first")
    t.ok(all(n > 0 for n, _ in rows) and len(rows) == 7, "every post appears exactly once")
    r = c.get("/list/team/archive")
    t.ok(r.status == 200 and all(f"#{n}<" in r.text for n in range(1, 8)), "the index lists every post")
    nums = [int(n) for n in re.findall(r'<span class="num">#(\d+)</span>', r.text)]
    t.eq(nums, [7, 6, 5, 4, 3, 2, 1], "the index is newest first")
t.done()
