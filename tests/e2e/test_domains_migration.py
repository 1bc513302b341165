#!/usr/bin/env python3
"""test_domains_migration.py - an instance of the release before several
domains (commit e62ff00, schema version 13) opened by this kairan.

How the old instance is made (no build, no sqlite3 binary): kairan.conf
and the directories by `kairan init` (unchanged since that release), then
kairan.db made with Python's sqlite3 by the thirteen migration steps of
that release's src/lib/db.c, copied below verbatim (OLD_MIGRATIONS) and
applied the way its db_migrate() did (one step, then PRAGMA user_version),
and filled with rows in that release's layout: the list team under its
bare name, its members, settings, owner password, a post in the archive
table and spool/team/archive/1, a held post, an API token.  Then this
kairan must open it unchanged but for the new table (user_version one
higher, no row rewritten), serve the old list as before (lists, members,
posting, the archive, held posts, the API token, POP3) both as team and as
team@DEFAULT, and take a second domain with a list of the same name."""
import hashlib
import json
import os
import poplib
import secrets
import sqlite3
import time

from kt import *

OLD_MIGRATIONS = [
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);CREATE TABLE lists(name TEXT PRIMARY KEY, created INTEGER NOT NULL,  seq INTEGER NOT NULL DEFAULT 0, password_hash TEXT);CREATE TABLE list_settings(list TEXT NOT NULL, key TEXT NOT NULL, value TEXT,  PRIMARY KEY(list, key));CREATE TABLE members(list TEXT NOT NULL, address TEXT NOT NULL, name TEXT,  nomail INTEGER NOT NULL DEFAULT 0, digest INTEGER NOT NULL DEFAULT 0,  post_only INTEGER NOT NULL DEFAULT 0, pop_password TEXT, apop_secret TEXT,  bounce_score REAL NOT NULL DEFAULT 0, bounce_last INTEGER,  disabled_reason TEXT, since INTEGER NOT NULL,  PRIMARY KEY(list, address));CREATE TABLE archive(list TEXT NOT NULL, num INTEGER NOT NULL, message_id TEXT,  date INTEGER, from_addr TEXT, from_name TEXT, subject TEXT, size INTEGER,  in_reply_to TEXT, refs TEXT, digested INTEGER NOT NULL DEFAULT 0,  PRIMARY KEY(list, num));CREATE INDEX archive_msgid ON archive(list, message_id);CREATE TABLE held(list TEXT NOT NULL, id TEXT NOT NULL, created INTEGER NOT NULL,  sender TEXT, subject TEXT, reason TEXT, size INTEGER, PRIMARY KEY(list, id));CREATE TABLE tokens(token TEXT PRIMARY KEY, list TEXT NOT NULL, action TEXT NOT NULL,  address TEXT NOT NULL, extra TEXT, expires INTEGER NOT NULL, used INTEGER NOT NULL DEFAULT 0);CREATE TABLE auth_failures(list TEXT NOT NULL, at INTEGER NOT NULL);CREATE TABLE pop_hidden(list TEXT NOT NULL, address TEXT NOT NULL, num INTEGER NOT NULL,  PRIMARY KEY(list, address, num));CREATE TABLE sessions(id TEXT PRIMARY KEY, list TEXT, address TEXT, csrf TEXT NOT NULL,  expires INTEGER NOT NULL);",
    "CREATE INDEX members_delivery ON members(list, nomail, post_only, digest, address);",
    "ALTER TABLE sessions ADD COLUMN role TEXT NOT NULL DEFAULT 'owner';",
    "CREATE TABLE dmarc_cache(domain TEXT PRIMARY KEY, policy TEXT NOT NULL, fetched INTEGER NOT NULL);",
    "CREATE TABLE rate_limits(kind TEXT NOT NULL, list TEXT NOT NULL, key TEXT NOT NULL,  window_start INTEGER NOT NULL, count INTEGER NOT NULL DEFAULT 0,  dropped INTEGER NOT NULL DEFAULT 0, PRIMARY KEY(kind, list, key));",
    "CREATE VIRTUAL TABLE archive_text USING fts5(list UNINDEXED, num UNINDEXED, subject, author, body,  tokenize = 'trigram');ALTER TABLE archive ADD COLUMN text_indexed INTEGER NOT NULL DEFAULT 0;ALTER TABLE archive ADD COLUMN footer TEXT;",
    "ALTER TABLE members ADD COLUMN moderated INTEGER NOT NULL DEFAULT 0;",
    "ALTER TABLE archive ADD COLUMN archived INTEGER;UPDATE archive SET archived = date;",
    "CREATE TABLE auth_guard(key TEXT PRIMARY KEY, failures INTEGER NOT NULL,  last_fail INTEGER NOT NULL);CREATE INDEX auth_guard_last ON auth_guard(last_fail);",
    "UPDATE list_settings SET value = replace(replace(replace(replace(replace(value, '{list}', '{{list}}'), '{address}', '{{address}}'), '{number}', '{{number}}'), '{unsubscribe}', '{{unsubscribe}}'), '{archive}', '{{archive}}') WHERE key = 'footer' AND value NOT LIKE '%{{%';",
    "CREATE TABLE pop_before_smtp(ip TEXT PRIMARY KEY, list TEXT, address TEXT, until INTEGER NOT NULL);",
    "CREATE TABLE api_tokens(id INTEGER PRIMARY KEY AUTOINCREMENT, hash TEXT NOT NULL UNIQUE,  list TEXT, name TEXT, created INTEGER NOT NULL, last_used INTEGER, revoked INTEGER);",
    "CREATE TABLE imap_flags(list TEXT NOT NULL, address TEXT NOT NULL, num INTEGER NOT NULL,  flags TEXT NOT NULL, PRIMARY KEY(list, address, num));"
]

t = Tap()
inst = Instance()                  # kairan.conf and the directories, as that release's init made them
for f in os.listdir(inst.home):
    if f.startswith("kairan.db"):
        os.unlink(inst.path(f))
now = int(time.time())
db = sqlite3.connect(inst.path("kairan.db"), isolation_level=None)
db.execute("PRAGMA journal_mode = WAL")
for v, step in enumerate(OLD_MIGRATIONS):
    db.executescript(f"BEGIN IMMEDIATE; {step}; PRAGMA user_version = {v + 1}; COMMIT;")
post = (b"From: Ann <ann@example.org>\nTo: team@" + DOMAIN.encode() + b"\nSubject: [old:00001] before\n"
        b"Message-ID: <old1@example.org>\nDate: Mon, 23 Nov 2026 10:00:00 +0000\n\nFrom the old release.\n")
held = (b"From: Carol <carol@example.org>\nTo: team@" + DOMAIN.encode() + b"\nSubject: held before\n"
        b"Message-ID: <oldheld@example.org>\nDate: Mon, 23 Nov 2026 11:00:00 +0000\n\nHeld in the old release.\n")
token = "kt_" + secrets.token_hex(20)
db.execute("BEGIN")
db.execute("INSERT INTO meta(key, value) VALUES('secret', ?)", (secrets.token_hex(32),))
db.execute("INSERT INTO lists(name, created, seq) VALUES('team', ?, 1)", (now,))
for k, v in (("owners", "owner@example.org"), ("subject_tag", "[old:%05d]"), ("post_policy", "members")):
    db.execute("INSERT INTO list_settings(list, key, value) VALUES('team', ?, ?)", (k, v))
for a in ("ann@example.org", "bob@example.org"):
    db.execute("INSERT INTO members(list, address, since) VALUES('team', ?, ?)", (a, now))
db.execute("INSERT INTO archive(list, num, message_id, date, from_addr, from_name, subject, size, archived)"
           " VALUES('team', 1, '<old1@example.org>', ?, 'ann@example.org', 'Ann', '[old:00001] before', ?, ?)",
           (now - 60, len(post), now - 60))
db.execute("INSERT INTO held(list, id, created, sender, subject, reason, size)"
           " VALUES('team', 'oldheld1', ?, 'carol@example.org', 'held before', 'not a member', ?)", (now, len(held)))
db.execute("INSERT INTO api_tokens(hash, list, name, created) VALUES(?, NULL, 'old', ?)",
           (hashlib.sha256(token.encode()).hexdigest(), now))
db.execute("COMMIT")
db.close()
os.makedirs(inst.path("spool", "team", "archive"), exist_ok=True)
os.makedirs(inst.path("spool", "team", "held"), exist_ok=True)
open(inst.path("spool", "team", "archive", "1"), "wb").write(post)
open(inst.path("spool", "team", "held", "oldheld1"), "wb").write(held)


def schema():
    c = sqlite3.connect(inst.path("kairan.db"))
    try:
        v = c.execute("PRAGMA user_version").fetchone()[0]
        tables = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        rows = {tb: c.execute(f"SELECT COUNT(*) FROM {tb}").fetchone()[0]
                for tb in ("lists", "members", "list_settings", "archive", "held", "api_tokens")}
        names = [r[0] for r in c.execute("SELECT name FROM lists ORDER BY name")]
        return v, tables, rows, names
    finally:
        c.close()


v0, tables0, rows0, _ = schema()
t.eq(v0, len(OLD_MIGRATIONS), "the old instance is at the old release's schema version")
t.ok("domains" not in tables0, "... without a domains table")

# ---- the new kairan opens it ----
out = inst.check("lists")
v1, tables1, rows1, names1 = schema()
t.eq(out.split(), ["team"], "lists: the old list, under its bare name")
t.ok(v1 > v0, "the migration steps since that release applied", (v0, v1))
t.ok("domains" in tables1 - tables0, "the domains table added", tables1 - tables0)
t.eq(rows1, rows0, "no row added or removed")
t.eq(names1, ["team"], "the list keeps its id (no row rewritten)")
t.eq(inst.check("members", "team").split(), ["ann@example.org", "bob@example.org"], "members kept")
t.eq(inst.check("members", f"team@{DOMAIN}").split(), ["ann@example.org", "bob@example.org"],
     "team@DEFAULT is the old list")
t.ok("[old:%05d]" in inst.check("config", f"team@{DOMAIN}", "subject_tag"), "settings kept")
t.ok("held before" in inst.check("held", "team"), "the held post is still there")
out = inst.check("domains")
t.ok(out.splitlines()[0].startswith(DOMAIN) and "1 list" in out.splitlines()[0],
     "domains: the default domain with its one list", out)

r = inst.deliver("team", make_msg(subject="after", frm="ann@example.org"), sender="ann@example.org")
m = inst.archive("team", 2)
t.ok(r.returncode == 0 and m is not None and str(m["Subject"]) == "[old:00002] after",
     "a post after the upgrade is number 2 in spool/team/archive/", r.stderr)
r = inst.run("approve", f"team@{DOMAIN}", "oldheld1")
t.ok(r.returncode == 0 and inst.archive("team", 3) is not None, "the old held post is approved as number 3", r.stderr)

inst.check("passwd", "team", "bob@example.org", stdin=b"bob-pass-1\n")
with Pop3d(inst) as pd:
    p = poplib.POP3("127.0.0.1", pd.port, timeout=30)
    p.user("bob@example.org/team")
    p.pass_("bob-pass-1")
    n = p.stat()[0]
    body = b"\n".join(p.retr(1)[1])
    p.quit()
    t.ok(n == 3 and b"From the old release." in body, "POP3 bob@example.org/team: the old post and the new ones", n)

with WebServer(inst) as web:
    wc = WebClient(inst, web)
    r = wc.get("/api/v1/lists", headers={"Authorization": "Bearer " + token})
    lists = json.loads(r.body) if r.status == 200 else []
    t.ok(r.status == 200 and [(x["name"], x["domain"]) for x in lists] == [("team", DOMAIN)],
         "the old API token works; the list's domain is the default", r.body[:300])

# ---- a second domain next to the old list ----
inst.check("domain", "add", "b.example")
inst.check("newlist", "team@b.example")
inst.subscribe("team@b.example", "zed@example.org")
t.eq(inst.check("lists").split(), ["team", "team@b.example"], "a list of the same name in a new domain")
t.eq(inst.check("members", "team").split(), ["ann@example.org", "bob@example.org"], "the old list is untouched")
t.done()
