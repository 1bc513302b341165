"""test_dkim.py - DKIM signing of posts and notices (issue 8).

Keys are made with `kairan dkim-keygen`; the TXT record it prints is
what the independent verifiers see: dkimpy (Debian python3-dkim) through
a DNS function serving that record, and opendkim-testmsg (opendkim-tools)
through a real dnsmasq on 127.0.0.1:53 in a private network namespace.
"""
import base64
import os
import re
import stat
import subprocess

from kt import *

t = Tap()
inst = Instance()
inst.newlist("team")
inst.subscribe("team", "member@example.org", "b@example.net")

# --- dkim-keygen ---------------------------------------------------------
r = inst.run("dkim-keygen", DOMAIN, "--selector", "rsa1", "--enable")
t.ok(r.returncode == 0, "dkim-keygen rsa exits 0", r.stderr)
rsa_name, rsa_value = dkim_record(r.stdout)
t.eq(rsa_name, f"rsa1._domainkey.{DOMAIN}", "TXT record name is SELECTOR._domainkey.DOMAIN")
tags = dict(x.strip().split("=", 1) for x in (rsa_value or "").split(";") if "=" in x)
t.ok(tags.get("v") == "DKIM1" and tags.get("k") == "rsa", "TXT record has v=DKIM1; k=rsa", rsa_value)
der = base64.b64decode(tags.get("p", ""))
pk = subprocess.run(["openssl", "pkey", "-pubin", "-inform", "DER", "-noout", "-text"], input=der,
                    capture_output=True)
t.ok(pk.returncode == 0 and b"2048 bit" in pk.stdout, "p= is a 2048-bit RSA public key", pk.stderr)
keyfile = inst.path("dkim", f"{DOMAIN}.rsa1.key")
t.ok(os.path.exists(keyfile) and stat.S_IMODE(os.stat(keyfile).st_mode) == 0o600,
     "private key written under HOME/dkim with mode 0600")
t.eq(dkim_record(open(inst.path("dkim", f"{DOMAIN}.rsa1.txt")).read()), (rsa_name, rsa_value),
     "the record is also kept in HOME/dkim/DOMAIN.SELECTOR.txt")
t.ok(re.search(rf"^{re.escape(DOMAIN)}\s*=\s*rsa1:dkim/", open(inst.path("kairan.conf")).read(), re.M),
     "--enable writes the [dkim] line into kairan.conf")

r = inst.run("dkim-keygen", DOMAIN, "--selector", "ed1", "--type", "ed25519")
ed_name, ed_value = dkim_record(r.stdout)
ed_tags = dict(x.strip().split("=", 1) for x in (ed_value or "").split(";") if "=" in x)
t.ok(r.returncode == 0 and ed_tags.get("k") == "ed25519" and len(base64.b64decode(ed_tags.get("p", ""))) == 32,
     "dkim-keygen --type ed25519: k=ed25519, p= is a 32-byte key (RFC 8463)", r.stdout + r.stderr)
t.ok(b"[dkim]" in r.stdout and b"ed1:dkim/" in r.stdout, "without --enable it prints the kairan.conf line")
r = inst.run("dkim-keygen", DOMAIN, "--selector", "ed1", "--type", "ed25519")
t.ok(r.returncode != 0, "an existing key file is never overwritten")

records = {rsa_name: rsa_value, ed_name: ed_value}


def use_key(selector):
    conf = open(inst.path("kairan.conf")).read()
    conf = re.sub(rf"^{re.escape(DOMAIN)}\s*=.*$", f"{DOMAIN}=" + selector + f":dkim/{DOMAIN}.{selector}.key",
                  conf, flags=re.M)
    open(inst.path("kairan.conf"), "w").write(conf)


def post(body="Hello list.\n", subject="hello", raw=None):
    nums = inst.archive_numbers("team")
    r = inst.deliver("team", raw or make_msg(subject=subject, body=body))
    after = inst.archive_numbers("team")
    if r.returncode != 0 or len(after) != len(nums) + 1:
        return None, r
    with open(inst.path("spool", "team", "archive", str(after[-1])), "rb") as f:
        return f.read(), r


have_dkimpy = dkimpy_verify(b"From: x\n\nx\n", {}) is not None
have_opendkim = opendkim_verify(b"From: x\n\nx\n", {}) is not None
if not have_dkimpy:
    t.diag("dkimpy (python3-dkim, python3-nacl) not installed: its checks are skipped")
if not have_opendkim:
    t.diag("opendkim-testmsg in a network namespace not available (needs root): its checks are skipped")


def verify(raw, what, opendkim=True):
    if have_dkimpy:
        t.ok(dkimpy_verify(raw, records), f"{what}: dkimpy verifies the signature")
    else:
        t.skip(f"{what}: dkimpy", "python3-dkim not installed")
    if not opendkim:
        return
    if have_opendkim:
        rc = opendkim_verify(raw, records)
        t.ok(rc == 0, f"{what}: opendkim-testmsg verifies the signature", f"exit {rc}")
    else:
        t.skip(f"{what}: opendkim-testmsg", "no network namespace")


# --- rsa-sha256 on a plain post -------------------------------------------
raw, r = post(body="Hello  list, with   spaces \t\n\n\n", subject="rsa test")
t.ok(raw is not None, "post accepted and archived", r.stderr)
t.ok(raw.startswith(b"DKIM-Signature:"), "the archive file starts with a DKIM-Signature field")
sig = raw.split(b"\n\n")[0].decode()
t.ok("a=rsa-sha256" in sig and "c=relaxed/relaxed" in sig and f"d={DOMAIN}" in sig and "s=rsa1" in sig,
     "rsa-sha256, relaxed/relaxed, d= the list domain, s= the selector", sig[:400])
h = re.search(r"h=([^;]*);", sig).group(1).replace("\n", "").replace("\t", "").replace(" ", "").split(":")
want = {"from", "subject", "date", "message-id", "to", "list-id", "list-post", "list-unsubscribe",
        "x-ml-name", "x-mail-count", "content-type", "mime-version"}
t.ok(want <= set(h), "the headers the list adds are signed (List-*, X-ML-Name, X-Mail-Count, Subject ...)", h)
verify(raw, "rsa post")
q = [m for m in inst.queue() if m["msg"]["X-Mail-Count"] == "1"]
t.ok(len(q) == 1 and q[0]["raw"] == raw, "the queued fan-out copy is the signed archive file")
tampered = raw.replace(b"rsa test", b"rsa tesT", 1)
if have_dkimpy:
    t.ok(dkimpy_verify(tampered, records) is False, "a changed Subject no longer verifies (dkimpy)")
if have_opendkim:
    t.ok(opendkim_verify(tampered, records) not in (0, None), "a changed Subject no longer verifies (opendkim)")

# --- ed25519-sha256 --------------------------------------------------------
use_key("ed1")
raw, r = post(subject="ed25519 test", body="Ed25519 body.\r\n")
t.ok(raw is not None and b"a=ed25519-sha256" in raw.split(b"\n\n")[0], "ed25519-sha256 signature", r.stderr)
# opendkim 2.11.0~beta2 (Debian 12) verifies ed25519 as well.
verify(raw, "ed25519 post")

# --- notices kairan writes itself are signed too ---------------------------
use_key("rsa1")
inst.clear_queue()
r = inst.deliver("team", make_msg(frm="Stranger <stranger@example.com>", subject="not a member"),
                 sender="stranger@example.com")
q = inst.queue()
t.ok(r.returncode == 0 and len(q) == 1 and q[0]["raw"].startswith(b"DKIM-Signature:"),
     "the refusal notice is signed", r.stderr)
if q:
    verify(q[0]["raw"], "refusal notice", opendkim=False)

# command-mail replies (src/ctl) go through the same notice path
inst.clear_queue()
r = inst.deliver("team", make_msg(subject="help", to=f"team-ctl@{DOMAIN}", body="help\n"), mode="--ctl")
q = inst.queue()
t.ok(r.returncode == 0 and len(q) == 1 and q[0]["raw"].startswith(b"DKIM-Signature:"),
     "the reply to command mail is signed", r.stderr)
if q:
    verify(q[0]["raw"], "command reply", opendkim=False)

# mail to LIST-admin forwarded to the owners is signed too (d= the list's domain)
inst.clear_queue()
r = inst.deliver("team", make_msg(frm="Someone <someone@example.net>", subject="a question for the owners",
                                  to=f"team-admin@{DOMAIN}"), mode="--admin", sender="someone@example.net")
q = inst.queue()
t.ok(r.returncode == 0 and len(q) == 1 and q[0]["raw"].startswith(b"DKIM-Signature:")
     and b"X-Kairan-Forwarded:" in q[0]["raw"], "a forward to the owners is signed", (r.stderr, q[:1]))
if q:
    verify(q[0]["raw"], "forward to the owners", opendkim=False)

# --- Japanese corpus posts -------------------------------------------------
files = corpus_files("japanese")
if not files:
    t.skip("Japanese corpus posts verify", "../shared/corpus/japanese is absent")
else:
    inst.config("team", "post_policy", "anyone")
    inst.config("team", "max_size", "0")
    use_key("rsa1")
    bad, n, signed = [], 0, []
    for i, path in enumerate(files):
        with open(path, "rb") as f:
            data = f.read()
        raw, r = post(raw=data)
        if raw is None:
            continue            # refused by policy (e.g. no From): not a signing question
        n += 1
        signed.append((os.path.basename(path), raw))
    if have_dkimpy:
        results = dkimpy_verify_many([raw for _, raw in signed], records)
        bad = [name for (name, _), ok in zip(signed, results) if not ok]
    t.ok(n >= len(files) - 2, f"{n} of {len(files)} Japanese corpus posts archived")
    if have_dkimpy:
        t.ok(not bad, f"every archived Japanese corpus post verifies (dkimpy, {n} posts)", bad)
    if have_opendkim:
        use_key("ed1")
        bad = []
        for path in files[:6]:
            with open(path, "rb") as f:
                raw, r = post(raw=f.read())
            if raw is not None and opendkim_verify(raw, records) != 0:
                bad.append(os.path.basename(path))
        t.ok(not bad, "Japanese corpus posts signed with ed25519 verify (opendkim-testmsg)", bad)

# --- the key of the From: domain is used when there is one -----------------
r = inst.run("dkim-keygen", "Example.COM", "--selector", "own", "--type", "ed25519")
own_name, own_value = dkim_record(r.stdout)
with open(inst.path("kairan.conf")) as f:
    conf = f.read()
conf = conf.replace("[dkim]\n", "[dkim]\nexample.com=own:dkim/example.com.own.key\n", 1)
open(inst.path("kairan.conf"), "w").write(conf)
records[own_name] = own_value
raw, r = post(raw=make_msg(frm="Boss <boss@EXAMPLE.com>", subject="from a signing domain"))
sig = raw.split(b"\n\n")[0].decode() if raw else ""
t.ok("d=example.com;" in sig and "s=own;" in sig, "a post From: a domain with its own [dkim] key is signed d=that domain",
     sig[:300])
if raw and have_dkimpy:
    t.ok(dkimpy_verify(raw, records), "the From-domain signature verifies (dkimpy)")

# --- no key configured: no signature, posts still flow ---------------------
conf = open(inst.path("kairan.conf")).read()
open(inst.path("kairan.conf"), "w").write(re.sub(r"^\[dkim\][^\[]*", "", conf, flags=re.M))
inst.config("team", "post_policy", "anyone")
raw, r = post(subject="unsigned")
t.ok(raw is not None and not raw.startswith(b"DKIM-Signature:"), "without a [dkim] key posts go out unsigned")

# --- a configured key that cannot be read: temporary failure ---------------
with open(inst.path("kairan.conf"), "a") as f:
    f.write(f"\n[dkim]\n{DOMAIN}=gone:dkim/missing.key\n")
nums = inst.archive_numbers("team")
r = inst.deliver("team", make_msg(subject="key missing"))
t.ok(r.returncode == 75 and inst.archive_numbers("team") == nums,
     "an unreadable configured key -> exit 75, nothing archived", r.stderr)

t.done()
