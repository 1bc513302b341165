#!/usr/bin/env python3
"""test_corpus.py - every message of ../shared/corpus through `kairan
deliver` (post_policy anyone): none crashes; each is distributed (exit 0,
archived, parseable, one tag) or refused as bad data (exit 65); Japanese
subjects stay readable."""
import os
import email
import email.policy
from kt import Tap, Instance, corpus_files

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

num = 0
for path in files:
    name = os.path.relpath(path, os.path.dirname(os.path.dirname(path)))
    raw = open(path, "rb").read()
    r = inst.deliver("team", raw, sender="sender@example.org")
    if r.returncode == 65:
        t.ok(len(r.stderr) > 0, f"{name}: refused as bad data (65) with a message")
        continue
    if not t.ok(r.returncode == 0, f"{name}: deliver exits 0 or 65 (got {r.returncode})", r.stderr):
        continue
    original = email.message_from_bytes(raw, policy=email.policy.default)
    looped = original["X-ML-Name"] is not None
    if looped:
        continue
    num += 1
    m = inst.archive("team", num)
    if not t.ok(m is not None, f"{name}: archived as {num}"):
        continue
    subj = str(m["Subject"] or "")
    t.ok(subj.count("[team:") == 1 and f"[team:{num:05d}]" in subj, f"{name}: exactly one tag [team:{num:05d}]", subj)
    if "/japanese/" in path:
        try:
            want = str(original["Subject"] or "").strip()
        except Exception:
            want = ""
        if want and "\ufffd" not in want and "=?" not in want:
            core = want
            for prefix in ("Re:", "RE:", "re:", "Re：", "Fwd:"):
                if core.startswith(prefix):
                    core = core[len(prefix):].strip()
            t.ok(core.split()[0] in subj if core.split() else True,
                 f"{name}: Japanese subject readable after tagging", f"{want!r} -> {subj!r}")
numbers = inst.archive_numbers("team")
t.eq(numbers, list(range(1, num + 1)), "archive numbers are contiguous")
t.done()
