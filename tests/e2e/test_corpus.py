#!/usr/bin/env python3
"""test_corpus.py - every message of ../shared/corpus through `kairan
deliver` (post_policy anyone), each judged against the outcome a user
expects, worked out from the file's own bytes (not from what kairan did):

  - input that does not start with a header field (a blank or
    whitespace-only first line, or plain text), or whose MIME parts nest
    more than 64 deep, is refused as documented in the README
    ("Posting"): exit 65 with that reason on stderr, nothing archived,
    nothing sent to the members;
  - a loop the README documents (more than 30 Received:, our own
    X-ML-Name) is dropped: exit 0, nothing archived;
  - every other file is a mail and is posted: exit 0, archived under the
    next number with exactly one [team:NNNNN] tag, its Message-ID kept,
    and one copy queued for the member.
Never exit 70 or a signal.  Japanese subjects stay readable.

The judge itself is checked: run through a list with max_size 1 (deliver
refuses everything with a reply) and fed a deliver that exits 65 for
every file, it must flag every mail that should have been posted - so
this test cannot pass on a kairan that wrongly refuses corpus mail."""
import os
import re
import subprocess
import email
import email.policy
from kt import Tap, Instance, corpus_files

FIELD = re.compile(rb"^[\x21-\x39\x3b-\x7e]+[ \t]*:")


def header_lines(raw):
    """The unfolded header lines of raw (an mbox From line skipped)."""
    lines = raw.replace(b"\r\n", b"\n").split(b"\n")
    if lines and lines[0].startswith(b"From "):
        lines = lines[1:]
    out = []
    for line in lines:
        if line.strip(b" \t\r") == b"":
            break
        if line[:1] in (b" ", b"\t") and out:
            out[-1] += b" " + line.strip()
        else:
            out.append(line)
    return lines, out


def mime_depth(raw):
    """The deepest nesting of multiparts and message/rfc822 parts."""
    deepest, stack = 0, [(email.message_from_bytes(raw, policy=email.policy.compat32), 1)]
    while stack:
        part, depth = stack.pop()
        if part.is_multipart() or part.get_content_type() == "message/rfc822":
            deepest = max(deepest, depth)
            payload = part.get_payload()
            for sub in payload if isinstance(payload, list) else []:
                stack.append((sub, depth + 1))
    return deepest


def expected(raw):
    """('refused', reason), ('dropped', None) or ('posted', None) for the
    bytes of one file."""
    lines, fields = header_lines(raw)
    if not lines or not FIELD.match(lines[0]):
        return "refused", "not a mail message"
    if mime_depth(raw) > 64:
        return "refused", "nested more than 64"
    names = [f.split(b":", 1)[0].strip().lower() for f in fields]
    if names.count(b"received") > 30:
        return "dropped", None
    for f in fields:
        name, _, value = f.partition(b":")
        if name.strip().lower() == b"x-ml-name" and value.strip().lower() == b"team":
            return "dropped", None
    return "posted", None


def queued_for(inst, rcpt):
    """How many queued envelopes name rcpt."""
    envdir = inst.path("queue", "env")
    if not os.path.isdir(envdir):
        return 0
    n = 0
    for f in os.listdir(envdir):
        with open(os.path.join(envdir, f), "rb") as fh:
            if f"\nR {rcpt}\n".encode() in fh.read():
                n += 1
    return n


def judge(inst, list_, raw, want, run, reason=None):
    """Deliver raw with run() and return (problems, archived message)."""
    before = inst.archive_numbers(list_)
    queued = queued_for(inst, "reader@example.org")
    r = run(raw)
    err = r.stderr.decode("utf-8", "replace").strip()
    problems = []
    if r.returncode < 0 or r.returncode == 70:
        return [f"crashed (exit {r.returncode}): {err}"], None
    after = inst.archive_numbers(list_)
    sent = queued_for(inst, "reader@example.org") - queued
    if want == "refused":
        if r.returncode != 65:
            problems.append(f"not refused as bad data: exit {r.returncode}")
        if reason not in err:
            problems.append(f"no clear reason on stderr: {err!r}")
        if after != before or sent:
            problems.append("a refused input was archived or sent")
        return problems, None
    if r.returncode != 0:
        problems.append(f"exit {r.returncode}, want 0: {err}")
    if want == "dropped":
        if after != before or sent:
            problems.append("a loop was archived or sent")
        return problems, None
    num = (before[-1] if before else 0) + 1
    if after != before + [num]:
        problems.append(f"not archived as {num} (archive: {after[-3:]})")
        return problems, None
    if sent != 1:
        problems.append(f"{sent} copies queued for the member, want 1")
    m = inst.archive(list_, num)
    subj = str(m["Subject"] or "")
    if subj.count(f"[{list_}:") != 1 or f"[{list_}:{num:05d}]" not in subj:
        problems.append(f"not exactly one tag [{list_}:{num:05d}]: {subj!r}")
    orig = email.message_from_bytes(raw, policy=email.policy.compat32)
    mid = re.fullmatch(r"<([^<>@\s]+@[^<>@\s]+)>", "".join(str(orig["Message-ID"] or "").split()))
    if mid and mid.group(1) not in "".join(str(m["Message-ID"] or "").split()):
        problems.append(f"Message-ID {mid.group(0)} not kept: {m['Message-ID']!r}")
    return problems, m


t = Tap()
files = corpus_files()
if not files:
    t.skip_all("../shared/corpus is absent")
inst = Instance()
inst.newlist("team")
inst.config("team", "post_policy", "anyone")
inst.config("team", "max_size", "0")
inst.config("team", "duplicate_window", "0")   # some corpus files share a Message-ID: each is posted
inst.subscribe("team", "reader@example.org")


def deliver_to(list_):
    return lambda raw: inst.deliver(list_, raw, sender="sender@example.org")


outcomes = {"posted": 0, "refused": 0, "dropped": 0}
posted_files = []
for path in files:
    name = os.path.relpath(path, os.path.dirname(os.path.dirname(path)))
    raw = open(path, "rb").read()
    want, reason = expected(raw)
    outcomes[want] += 1
    problems, m = judge(inst, "team", raw, want, deliver_to("team"), reason)
    t.ok(not problems, f"{name}: {want}", "; ".join(problems))
    if want == "posted":
        posted_files.append((name, raw))
    if m is not None and "/japanese/" in path:
        subj = str(m["Subject"] or "")
        try:
            want_subj = str(email.message_from_bytes(raw, policy=email.policy.default)["Subject"] or "").strip()
        except Exception:
            want_subj = ""
        if want_subj and "\ufffd" not in want_subj and "=?" not in want_subj:
            core = want_subj
            for prefix in ("Re:", "RE:", "re:", "Re：", "Fwd:"):
                if core.startswith(prefix):
                    core = core[len(prefix):].strip()
            t.ok(core.split()[0] in subj if core.split() else True,
                 f"{name}: Japanese subject readable after tagging", f"{want_subj!r} -> {subj!r}")
numbers = inst.archive_numbers("team")
t.eq(numbers, list(range(1, outcomes["posted"] + 1)), "every posted file archived, numbers contiguous")
t.ok(outcomes["posted"] >= len(files) * 9 // 10,
     f"most of the corpus is mail to post ({outcomes})")

# The judge must catch a kairan that refuses good mail: a list that
# refuses everything (max_size 1: exit 0, a refusal reply, no archive),
# and a deliver that exits 65 for every file.
inst.newlist("strict")
inst.config("strict", "post_policy", "anyone")
inst.config("strict", "max_size", "1")
inst.subscribe("strict", "reader@example.org")
missed = [n for n, raw in posted_files if not judge(inst, "strict", raw, "posted", deliver_to("strict"))[0]]
t.eq(missed, [], f"the judge flags all {len(posted_files)} mails when max_size 1 refuses them")


def refuse_all(raw):
    return subprocess.CompletedProcess([], 65, b"", b"kairan deliver: refused\n")


missed = [n for n, raw in posted_files if not judge(inst, "team", raw, "posted", refuse_all)[0]]
t.eq(missed, [], f"the judge flags all {len(posted_files)} mails when every one exits 65")
t.done()
