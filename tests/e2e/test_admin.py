#!/usr/bin/env python3
"""test_admin.py - the administration subcommands: init, newlist, aliases,
lists, members, subscribe, unsubscribe, passwd, config; address handling;
--help on each; the alias map file."""
import os
import sqlite3
from kt import Tap, Instance, KAIRAN
import subprocess

t = Tap()
inst = Instance()

out = inst.newlist("team", owner="Owner@Example.ORG", password="s3cret-pw")
t.ok("team:" in out and "deliver team" in out, "newlist prints the LIST alias")
t.ok(f"--home {inst.home}" in out, "alias lines carry --home for a non-default instance")
t.ok(os.path.exists(inst.path("aliases")), "newlist writes HOME/aliases")
t.ok("deliver --admin team" in open(inst.path("aliases")).read(), "alias map has the -admin line")
r = inst.run("newlist", "team")
t.ok(r.returncode != 0 and b"exists" in r.stderr, "a second newlist of the same name is refused")
for bad in ("Bad", "../etc", "x-ctl", "a b", ""):
    r = inst.run("newlist", bad)
    t.ok(r.returncode == 64, f"invalid list name {bad!r} refused with 64", r.stderr)

db = sqlite3.connect(inst.path("kairan.db"))
h = db.execute("select password_hash from lists where name='team'").fetchone()[0]
t.ok(h.startswith("pbkdf2-sha256$") and "s3cret" not in h, "owner password stored only as a salted hash")
t.eq(db.execute("pragma journal_mode").fetchone()[0], "wal", "database in WAL mode")
t.ok(db.execute("pragma user_version").fetchone()[0] >= 1, "schema version recorded")
t.eq(inst.check("config", "team", "owners").strip(), "Owner@example.org", "owner address normalised (domain lower-cased)")

# subscribe / members / unsubscribe, address normalisation
inst.check("subscribe", "team", "Alice@Example.COM")
inst.check("subscribe", "team", "bob@example.com", "--digest")
inst.check("subscribe", "team", "alice-alt@example.net", "--nomail")
members = inst.check("members", "team").split()
t.ok("Alice@example.com" in members, "subscribe normalises the domain, keeps the local part")
r = inst.run("subscribe", "team", "alice@example.com")
t.ok(r.returncode == 0 and "alice@example.com" in inst.check("members", "team"),
     "local parts compare exactly: alice and Alice are different mailboxes")
verbose = inst.check("members", "team", "--verbose")
t.ok("alice-alt@example.net post-only" in verbose and "bob@example.com digest" in verbose,
     "members --verbose shows post-only and digest members")
r = inst.run("subscribe", "team", "Alice@example.com")
t.ok(r.returncode == 0 and b"already" in r.stdout, "subscribing a member again says so")
for bad in ("not-an-address", "a@b@c", "x@exa mple.com", "evil\r\nBcc: x@y.z"):
    r = inst.run("subscribe", "team", bad)
    t.ok(r.returncode == 64 and len(r.stderr) > 10, f"bad address {bad!r} refused with a message", r.stderr)
r = inst.run("unsubscribe", "team", "alice@example.com")
t.ok(r.returncode == 0 and "alice@example.com" not in inst.check("members", "team").split(), "unsubscribe removes the member")
r = inst.run("unsubscribe", "team", "nobody@example.com")
t.ok(r.returncode == 67, "unsubscribing a non-member fails with 67")
r = inst.run("members", "nolist")
t.eq(r.returncode, 67, "members of an unknown list: 67")

# lists
inst.newlist("second")
t.eq(inst.check("lists").split(), ["second", "team"], "lists shows every list, sorted")
t.ok("second" in inst.check("aliases") and "second-ctl" in open(inst.path("aliases")).read(),
     "aliases prints and writes every list")

# config
allcfg = inst.check("config", "team")
for key in ("post_policy", "subscribe_policy", "max_size", "attachments", "allowed_types", "html",
            "subject_tag", "reply_to", "archive_access", "digest_size", "digest_interval",
            "max_commands", "language", "owners", "moderators"):
    t.ok(f"{key} = " in allcfg, f"config shows {key}")
for key, good, bad in (("post_policy", "moderated", "everyone"), ("max_size", "2048", "-5"),
                       ("attachments", "strip", "zap"), ("language", "ja", "fr"),
                       ("digest_interval", "12h", "soon"), ("owners", "a@example.org, b@example.org", "not an address"),
                       ("subject_tag", "(%s %d)", "[%d:%d]"), ("allowed_types", "text/plain image/*", "text")):
    r = inst.run("config", "team", key, good)
    t.ok(r.returncode == 0, f"config {key} {good!r} accepted", r.stderr)
    r = inst.run("config", "team", key, bad)
    t.ok(r.returncode == 64 and key.encode() in r.stderr, f"config {key} {bad!r} refused naming the key", r.stderr)
t.eq(inst.check("config", "team", "owners").strip(), "a@example.org,b@example.org", "address list normalised")
r = inst.run("config", "team", "bogus_key")
t.ok(r.returncode == 64 and b"post_policy" in r.stderr, "unknown key refused, naming the valid keys")

# passwd
r = inst.run("passwd", "team", stdin=b"new-owner-pw\n")
t.ok(r.returncode == 0, "passwd sets the owner password from stdin", r.stderr)
h2 = db.execute("select password_hash from lists where name='team'").fetchone()[0]
t.ok(h2 != h and "new-owner-pw" not in h2, "owner password hash changed")
r = inst.run("passwd", "team", "bob@example.com", stdin=b"pop-pass\n")
t.ok(r.returncode == 0, "passwd LIST ADDR sets a member's POP3 password")
ph = db.execute("select pop_password from members where address='bob@example.com'").fetchone()[0]
t.ok(ph and "pop-pass" not in ph, "member POP3 password stored hashed")
r = inst.run("passwd", "team", "stranger@example.com", stdin=b"x-pass\n")
t.eq(r.returncode, 67, "passwd for a non-member: 67")
t.ok("s3cret" not in inst.log() and "new-owner-pw" not in inst.log() and "pop-pass" not in inst.log(),
     "passwords never appear in the log")

# --help on every subcommand, usage errors
for sub in ("init", "newlist", "aliases", "lists", "members", "subscribe", "unsubscribe", "passwd",
            "config", "held", "approve", "reject", "deliver", "relay", "queue", "flush", "digest",
            "dkim-keygen", "pop3d", "web"):
    r = subprocess.run([KAIRAN, sub, "--help"], capture_output=True)
    t.ok(r.returncode == 0 and b"Usage" in r.stdout, f"kairan {sub} --help")
r = subprocess.run([KAIRAN, "frobnicate"], capture_output=True)
t.eq(r.returncode, 64, "unknown subcommand: 64")
r = subprocess.run([KAIRAN, "--home", "/nonexistent/kairan-x", "lists"], capture_output=True)
t.ok(r.returncode == 78 and b"init" in r.stderr, "no instance: exit 78 with a hint to run init", r.stderr)
t.done()
