"""test_dmarc.py - DMARC-safe posts (issue 8): dmarc = auto|munge|wrap|off.

The author domains' _dmarc TXT records are served by a real dnsmasq on a
free loopback port ([global] dns_resolver points kairan at it):
strict.test p=reject, quar.test p=quarantine, relaxed.test p=none,
norec.test no record, and org.test (p=none; sp=reject) for the
organisational-domain fallback of mail.org.test.
"""
import email
import email.policy
import os
import re
import sqlite3

from kt import *

t = Tap()
if not which("dnsmasq"):
    t.skip_all("dnsmasq not installed")

dns, port = dnsmasq_start([
    ("_dmarc.strict.test", "v=DMARC1; p=reject; rua=mailto:d@strict.test"),
    ("_dmarc.quar.test", "v=DMARC1; p=quarantine"),
    ("_dmarc.relaxed.test", "v=DMARC1; p=none"),
    ("_dmarc.org.test", "v=DMARC1; p=none; sp=reject"),
])
try:
    inst = Instance()
    conf = open(inst.path("kairan.conf")).read()
    conf = re.sub(r"^dns_resolver\s*=.*\n", "", conf, flags=re.M)
    conf = conf.replace("[global]\n", f"[global]\ndns_resolver=127.0.0.1:{port}\n", 1)
    open(inst.path("kairan.conf"), "w").write(conf)
    inst.newlist("team")
    inst.subscribe("team", "reader@example.net")
    inst.config("team", "post_policy", "anyone")
    inst.config("team", "duplicate_window", "0")   # the same corpus posts go through each mode
    r = inst.run("dkim-keygen", DOMAIN, "--selector", "k1", "--enable")
    rec_name, rec_value = dkim_record(r.stdout)

    r = inst.run("config", "team", "dmarc")
    t.ok(r.returncode == 0 and b"auto" in r.stdout, "dmarc defaults to auto", r.stdout + r.stderr)
    r = inst.run("config", "team", "dmarc", "bogus")
    t.ok(r.returncode != 0 and b"auto|munge|wrap|off" in r.stdout + r.stderr,
         "an invalid dmarc value is refused naming the valid ones")

    def post(author, name="Taro Yamada", subject="hi", extra=""):
        nums = inst.archive_numbers("team")
        r = inst.deliver("team", make_msg(frm=f"{name} <{author}>", subject=subject, extra=extra), sender=author)
        after = inst.archive_numbers("team")
        if r.returncode != 0 or len(after) != len(nums) + 1:
            t.diag(r.stderr.decode(errors="replace"))
            return None, None, None
        n = after[-1]
        raw = open(inst.path("spool", "team", "archive", str(n)), "rb").read()
        return n, email.message_from_bytes(raw, policy=email.policy.default), raw

    def index_from(n):
        db = sqlite3.connect(inst.path("kairan.db"))
        row = db.execute("SELECT from_addr, from_name FROM archive WHERE list='team' AND num=?", (n,)).fetchone()
        db.close()
        return row

    # --- auto -----------------------------------------------------------------
    for author, rewritten, what in [
        ("taro@strict.test", True, "p=reject"),
        ("taro@quar.test", True, "p=quarantine"),
        ("taro@relaxed.test", False, "p=none"),
        ("taro@norec.test", False, "no DMARC record"),
        ("taro@mail.org.test", True, "organisational domain with sp=reject"),
    ]:
        res = post(author, extra="DKIM-Signature: v=1; a=rsa-sha256; d=x; b=abc\n")
        if res[0] is None:
            t.ok(False, f"auto, {what}: post accepted")
            continue
        n, m, raw = res
        frm = str(m["From"])
        if rewritten:
            t.eq(frm, f"Taro Yamada via team <team@{DOMAIN}>", f"auto, {what}: From rewritten to 'Name via LIST' <LIST@DOMAIN>")
            t.ok(author in str(m["Reply-To"]), f"auto, {what}: Reply-To is the author", m["Reply-To"])
            t.ok(author in str(m["X-Original-From"]), f"auto, {what}: X-Original-From keeps the author")
            t.ok(len(m.get_all("DKIM-Signature") or []) == 1 and f"d={DOMAIN}" in str(m["DKIM-Signature"]),
                 f"auto, {what}: only the list's own DKIM-Signature is left")
        else:
            t.ok(author in frm and "via team" not in frm, f"auto, {what}: From unchanged", frm)
            t.ok(m["Reply-To"] is None, f"auto, {what}: no Reply-To added")
        t.eq(index_from(n), (author, "Taro Yamada"), f"auto, {what}: the archive index keeps the author")

    # The list's signature verifies on a munged post, aligned with the new From.
    res = post("hanako@strict.test", name="山田花子", subject="日本語の件名")
    if res[0] is not None:
        n, m, raw = res
        t.ok("山田花子 via team" in str(m["From"]) and f"team@{DOMAIN}" in str(m["From"]),
             "a Japanese display name is kept readable in the munged From", m["From"])
        ok = dkimpy_verify(raw, {rec_name: rec_value})
        if ok is None:
            t.skip("munged post verifies", "python3-dkim not installed")
        else:
            t.ok(ok, "the munged post's DKIM signature (d= list domain) verifies (dkimpy)")
    else:
        t.ok(False, "Japanese post to strict.test accepted")

    # Cached: with the DNS server gone, strict.test is still known.
    dns.terminate()
    dns.wait()
    db = sqlite3.connect(inst.path("kairan.db"))
    cached = dict(db.execute("SELECT domain, policy FROM dmarc_cache").fetchall())
    db.close()
    t.ok(cached.get("strict.test") == "reject" and cached.get("norec.test") == "" and
         cached.get("relaxed.test") == "none", "lookups are cached in kairan.db", cached)
    res = post("jiro@strict.test", name="Jiro")
    t.ok(res[0] is not None and "via team" in str(res[1]["From"]),
         "the cached policy is used while the DNS server is down")
    res = post("jiro@unknown-domain.test", name="Jiro")
    t.ok(res[0] is not None and "jiro@unknown-domain.test" in str(res[1]["From"]),
         "a DNS failure does not stop the post (From kept)")

    # dmarc_cache_ttl = 0: nothing is reused, so with DNS down nothing is known.
    conf = open(inst.path("kairan.conf")).read().replace("[global]\n", "[global]\ndmarc_cache_ttl=0\n", 1)
    open(inst.path("kairan.conf"), "w").write(conf)
    res = post("saburo@strict.test", name="Saburo")
    t.ok(res[0] is not None and "saburo@strict.test" in str(res[1]["From"]),
         "dmarc_cache_ttl=0: the cached answer is not used (DNS down, From kept)")
    conf = open(inst.path("kairan.conf")).read().replace("dmarc_cache_ttl=0\n", "", 1)
    open(inst.path("kairan.conf"), "w").write(conf)

    # --- munge, reply_to = list ---------------------------------------------
    inst.config("team", "dmarc", "munge")
    inst.config("team", "reply_to", "list")
    res = post("saburo@relaxed.test", name="Saburo")
    n, m, raw = res
    t.eq(str(m["From"]), f"Saburo via team <team@{DOMAIN}>", "munge: From rewritten whatever the policy")
    t.ok(str(m["Reply-To"]) == f"team@{DOMAIN}" and "saburo@relaxed.test" in str(m["Cc"]),
         "munge with reply_to=list: Reply-To the list, the author in Cc", f"{m['Reply-To']} / {m['Cc']}")
    inst.config("team", "reply_to", "author")

    # --- wrap -----------------------------------------------------------------
    inst.config("team", "dmarc", "wrap")
    res = post("shiro@relaxed.test", name="Shiro", subject="wrapped one")
    n, m, raw = res
    t.eq(str(m["From"]), f"Shiro via team <team@{DOMAIN}>", "wrap: the outer message is from the list")
    t.eq(m.get_content_type(), "message/rfc822", "wrap: the outer body is a message/rfc822 part")
    inner = m.get_payload()[0] if m.is_multipart() else m.get_content()
    t.ok(inner is not None and "shiro@relaxed.test" in str(inner["From"]) and "via" not in str(inner["From"]),
         "wrap: the attached message is from the author")
    t.ok(inner is not None and inner.get_content().strip() == "Hello list.", "wrap: the post's body is intact")
    t.ok("wrapped one" in str(m["Subject"]) and "[team:" in str(m["Subject"]) and m["X-ML-Name"] == "team"
         and m["List-Id"] is not None and m["Message-ID"] is not None,
         "wrap: Subject (tagged), Message-ID and list headers are on the outer message")
    t.ok("shiro@relaxed.test" in str(m["Reply-To"]), "wrap: Reply-To is the author")
    t.eq(index_from(n), ("shiro@relaxed.test", "Shiro"), "wrap: the archive index keeps the author")
    ok = dkimpy_verify(raw, {rec_name: rec_value})
    if ok is not None:
        t.ok(ok, "wrap: the wrapper's DKIM signature verifies (dkimpy)")

    # --- a held post approved later gets the same treatment -------------------
    inst.config("team", "dmarc", "auto")
    inst.config("team", "post_policy", "moderated")
    n0 = len(inst.archive_numbers("team"))
    r = inst.deliver("team", make_msg(frm="Rokuro <rokuro@strict.test>", subject="held one"),
                     sender="rokuro@strict.test")
    ids = re.findall(r"^(\S+)", inst.run("held", "team").stdout.decode(), re.M)
    ids = [i for i in ids if re.fullmatch(r"[0-9a-f]{6,}", i)]
    r = inst.run("approve", "team", ids[0]) if ids else None
    nums = inst.archive_numbers("team")
    if r is not None and r.returncode == 0 and len(nums) == n0 + 1:
        raw = open(inst.path("spool", "team", "archive", str(nums[-1])), "rb").read()
        m = email.message_from_bytes(raw, policy=email.policy.default)
        t.ok("Rokuro via team" in str(m["From"]) and dkimpy_verify(raw, {rec_name: rec_value}) is not False,
             "an approved held post from a p=reject domain is munged and signed", m["From"])
    else:
        t.ok(False, "held post approved", (r.stderr if r is not None else b"no held id"))
    inst.config("team", "post_policy", "anyone")

    # --- Japanese corpus posts, munged and wrapped, stay readable and verify ---
    files = corpus_files("japanese")
    if not files:
        t.skip("Japanese corpus posts munged", "../shared/corpus/japanese is absent")
    else:
        inst.config("team", "max_size", "0")
        for mode in ("munge", "wrap"):
            inst.config("team", "dmarc", mode)
            bad, n, signed = [], 0, []
            for path in files:
                data = open(path, "rb").read()
                orig = email.message_from_bytes(data, policy=email.policy.default)
                try:
                    author = orig["From"].addresses[0]
                except Exception:
                    continue          # no usable From: nothing to munge
                nums = inst.archive_numbers("team")
                r = inst.deliver("team", data, sender=author.addr_spec or "x@example.net")
                after = inst.archive_numbers("team")
                if r.returncode != 0 or len(after) != len(nums) + 1:
                    bad.append(os.path.basename(path) + ": not archived")
                    continue
                n += 1
                raw = open(inst.path("spool", "team", "archive", str(after[-1])), "rb").read()
                m = email.message_from_bytes(raw, policy=email.policy.default)
                want = f"{author.display_name or author.addr_spec} via team"
                if str(m["From"].addresses[0].display_name) != want:
                    bad.append(f"{os.path.basename(path)}: From {m['From']!r}, want {want!r}")
                elif index_from(after[-1])[0] != author.addr_spec.lower():
                    bad.append(os.path.basename(path) + f": index {index_from(after[-1])}")
                signed.append((os.path.basename(path), raw))
            results = dkimpy_verify_many([raw for _, raw in signed], {rec_name: rec_value}) or []
            bad += [name + ": signature does not verify" for (name, _), ok in zip(signed, results) if not ok]
            t.ok(n > 0 and not bad, f"{mode}: {n} Japanese corpus posts keep the author's name readable "
                 "('NAME via team'), verify, and are indexed by author", bad)

    # --- off ------------------------------------------------------------------
    inst.config("team", "dmarc", "off")
    res = post("goro@strict.test", name="Goro")
    t.ok(res[0] is not None and "goro@strict.test" in str(res[1]["From"]) and "via" not in str(res[1]["From"]),
         "off: From is never rewritten, even for p=reject")
finally:
    if dns.poll() is None:
        dns.terminate()
        dns.wait()

t.done()
