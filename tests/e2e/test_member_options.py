"""test_member_options.py - per-member options and notices (issue #17):
posts go through the real `kairan deliver`, the real relay and into
smtp-sink, and each check reads what the members' mailboxes got.

- receive_own_posts off: the author gets no copy of their own post, the
  others do; nodupes: a member named in Cc gets no list copy, and one not
  named does; vacation until a future date: no posts; off, or a date that
  has passed: posts again (kairan member-set);
- command mail `set OPTION on|off` / `set vacation until DATE` changes
  nothing until the member's own address answers the confirmation;
  moderated is not for members; a bad date is refused without a token;
- hide_address: `members` and `actives` replies leave the member out for
  members, owners still see it;
- acknowledge_posts + acknowledge: "your post N was distributed", never
  for automatic mail, never when the list does not offer it;
- notify_membership: the owner gets one mail per subscribe, unsubscribe,
  address change, from the CLI, the REST API, command mail and the web;
  nothing when it is off;
- auto-responders for posts, -ctl and -admin mail: once per sender per
  autorespond_grace, again with grace 0, never to automatic mail;
- the REST API shows the options and PATCHes them (422 naming the bad
  key or value, all or nothing; the answers match openapi.json); the web
  options page saves them."""
import datetime
import json
import re
import urllib.parse

from kt import *

t = Tap()
if not which("smtp-sink"):
    t.skip_all("smtp-sink (postfix) not installed")

MD = "example.test"
A, B, C, Dd = (f"{x}@{MD}" for x in ("alice", "bob", "carol", "dave"))
OWNER = f"owner@{MD}"
today = datetime.datetime.now(datetime.timezone.utc).date()
FUTURE = (today + datetime.timedelta(days=30)).isoformat()
PAST = (today - datetime.timedelta(days=30)).isoformat()

inst = Instance()
inst.newlist("team", owner=OWNER, password="owner-pass-123")
inst.subscribe("team", A, B, C, Dd)
sink = Sink()
relay = None
counter = [0]


def queue_empty():
    """The relay has sent everything (inst.queue() would race with it)."""
    d = inst.path("queue", "env")
    return not os.path.isdir(d) or not [x for x in os.listdir(d) if not x.startswith(".")]


def mails(pred=None):
    """(rcpts, parsed message) of every transaction the sink got."""
    out = []
    for _, rcpts, raw in sink.transactions():
        m = email.message_from_bytes(raw, policy=email.policy.default)
        if pred is None or pred(m):
            out.append(([r.strip("<>") for r in rcpts], m))
    return out


def post(frm, extra="", to=f"team@{DOMAIN}", subject=None, wait=None):
    """A post from frm; the set of members that got a copy of it."""
    counter[0] += 1
    subject = subject or f"post {counter[0]}"
    r = inst.deliver("team", make_msg(subject=subject, frm=frm, to=to, extra=extra), sender=frm)
    t.ok(r.returncode == 0, f"{subject}: accepted", r.stderr)
    n = inst.archive_numbers("team")[-1] if inst.archive_numbers("team") else 0
    if wait:
        sink.wait_recipients(len(sink.recipients()) + wait, timeout=20)
    wait_for(queue_empty, timeout=20)
    got = set()
    for rcpts, m in mails(lambda m: m.get("X-Mail-Count") == str(n) and not m.get("X-Kairan-Notice")):
        got |= set(rcpts)
    return got


def notes(kind, to=None):
    """Notices of template kind (X-Kairan-Notice) the sink got (for to)."""
    wait_for(queue_empty, timeout=20)
    return [m for rcpts, m in mails(lambda m: m.get("X-Kairan-Notice") == kind) if to is None or to in rcpts]


def ids():
    return {m["Message-ID"] for _, m in mails()}


LAST = {}


def ctl(frm, body, mode="--ctl", to=None, extra=""):
    """A command mail from frm; the reply text (also in LAST[frm]) and
    LAST["new"], the mails that arrived because of it."""
    before = ids()
    r = inst.deliver("team", ctl_mail(body=body, frm=frm, to=to or f"team-ctl@{DOMAIN}", extra=extra),
                     sender=frm, mode=mode)
    t.ok(r.returncode == 0, f"command mail '{body.splitlines()[-1]}' from {frm} accepted", r.stderr)
    wait_for(queue_empty, timeout=20)
    LAST["new"] = [(rc, m) for rc, m in mails() if m["Message-ID"] not in before]
    replies = [m for rc, m in LAST["new"] if m.get("X-Kairan-Notice") == "ctl_reply" and frm in rc]
    LAST[frm] = body_text(replies[-1]) if replies else ""
    return LAST[frm]


def last_reply(to):
    return LAST.get(to, "")


def opts(addr):
    out = inst.check("member-set", "team", addr)
    return dict(line.split(None, 1) for line in out.strip().splitlines())


def confirm_last(addr, kind="confirm_change"):
    """Answer the confirmation mail the last command mail brought addr."""
    got = [m for rc, m in LAST.get("new", []) if m.get("X-Kairan-Notice") == kind and addr in rc]
    if not got:
        return None
    tok = re.search(r"confirm ([0-9a-f]+)", got[-1]["Subject"]).group(1)
    return ctl(addr, f"confirm {tok}")


try:
    relay = Relay(inst, conf={"routes": f"{MD}=[127.0.0.1]:{sink.port}", "retry_min": "1", "retry_max": "2"})

    # ---- receive_own_posts, nodupes, vacation --------------------------
    t.eq(post(A), {A, B, C, Dd}, "by default every member gets a post, the author too")
    out = inst.check("member-set", "team", A, "receive_own_posts", "off")
    t.ok("receive_own_posts  off" in out, "member-set prints the options after the change", out)
    t.ok("no-own-posts" in inst.check("members", "team", "-v"), "members -v shows no-own-posts")
    t.eq(post(A), {B, C, Dd}, "receive_own_posts off: the author gets no copy, the others do")
    t.eq(post(B), {A, B, C, Dd}, "receive_own_posts off does not drop the member from others' posts")

    inst.check("member-set", "team", B, "nodupes", "on")
    t.eq(post(C, extra=f"Cc: Bob <{B}>\n"), {A, C, Dd}, "nodupes: a member named in Cc gets no list copy")
    t.eq(post(C, to=f"team@{DOMAIN}, {B.replace('example.test', 'Example.TEST')}"), {A, C, Dd},
         "nodupes: named in To (domain in another case) also counts")
    t.eq(post(C), {A, B, C, Dd}, "nodupes: a post that does not name the member reaches them")
    t.eq(post(C, extra=f"Cc: {Dd}\n"), {A, B, C, Dd}, "nodupes off: named in Cc still gets the list copy")

    inst.check("member-set", "team", Dd, "vacation", FUTURE)
    t.ok(f"vacation-until:{FUTURE}" in inst.check("members", "team", "-v"), "members -v shows the vacation date")
    t.eq(post(C), {A, B, C}, "vacation until a future date: no posts")
    inst.check("member-set", "team", Dd, "vacation", PAST)
    t.eq(post(C), {A, B, C, Dd}, "vacation until a date that has passed: delivery resumed by itself")
    inst.check("member-set", "team", Dd, "vacation", "until " + FUTURE)
    inst.check("member-set", "team", Dd, "vacation", "off")
    t.eq(post(C), {A, B, C, Dd}, "vacation off: posts again")
    for bad in (["vacation", "2026-02-30"], ["vacation", "soon"], ["nodupes", "maybe"], ["colour", "on"]):
        r = inst.run("member-set", "team", Dd, *bad)
        t.ok(r.returncode == 64 and bad[0].encode() in r.stderr and b"valid" in r.stderr,
             f"member-set {' '.join(bad)}: refused (64) naming the valid values", r.stderr)
    r = inst.run("member-set", "team", f"nobody@{MD}", "nodupes", "on")
    t.eq(r.returncode, 67, "member-set of a non-member: 67")
    r = inst.run("--help")
    t.ok("member-set" in (r.stdout + r.stderr).decode(), "kairan --help names member-set")

    # ---- command mail set: confirmed by the member's own address -------
    ctl(C, "set receive_own_posts off")
    t.ok("confirmation request was sent" in last_reply(C), "set: the reply says a confirmation was sent",
         last_reply(C))
    t.eq(opts(C)["receive_own_posts"], "on", "set: nothing changed before the confirmation")
    reply = confirm_last(C)
    t.ok(reply and "receive_own_posts" in reply and "off" in reply, "confirm: the option is set", reply)
    t.eq(opts(C)["receive_own_posts"], "off", "set receive_own_posts off: stored after the confirmation")
    t.eq(post(C), {A, B, Dd}, "set by command mail: the author's own copy stops")
    ctl(C, f"set vacation until {FUTURE}")
    confirm_last(C)
    t.eq(opts(C)["vacation"], f"until {FUTURE}", "set vacation until DATE: stored after the confirmation")
    ctl(C, "set vacation off")
    confirm_last(C)
    t.eq(opts(C)["vacation"], "off", "set vacation off: stored after the confirmation")
    ctl(C, "set vacation until 2026-13-01")
    t.ok("vacation" in last_reply(C) and "YYYY-MM-DD" in last_reply(C), "set vacation with a bad date: an error",
         last_reply(C))
    t.ok(not [m for _, m in LAST["new"] if m.get("X-Kairan-Notice") == "confirm_change"],
         "no confirmation mail for a bad date")
    ctl(C, "set moderated off")
    t.ok("Usage" in last_reply(C), "set moderated: not for members (usage)", last_reply(C))
    t.ok(not [m for _, m in LAST["new"] if m.get("X-Kairan-Notice") == "confirm_change"],
         "no confirmation mail for set moderated")
    ctl(f"stranger@{MD}", "set nodupes on")
    t.ok("is not a member" in last_reply(f"stranger@{MD}"), "set from a non-member: not a member",
         last_reply(f"stranger@{MD}"))

    # ---- hide_address ---------------------------------------------------
    inst.check("member-set", "team", Dd, "hide_address", "on")
    ctl(A, "members")
    t.ok(A in last_reply(A) and Dd not in last_reply(A) and "3 member" in last_reply(A),
         "hide_address: members leaves the member out for a member", last_reply(A))
    ctl(A, "actives")
    t.ok(Dd not in last_reply(A), "hide_address: actives leaves the member out", last_reply(A))
    ctl(OWNER, "members")
    t.ok(Dd in last_reply(OWNER), "hide_address: the owner still sees the member", last_reply(OWNER))
    ctl(Dd, "status")
    t.ok("hide_address on" in last_reply(Dd), "status lists the member's options", last_reply(Dd))

    # ---- acknowledgements ------------------------------------------------
    inst.check("member-set", "team", B, "acknowledge", "on")
    post(B)
    t.eq(len(notes("post_ack", B)), 0, "acknowledge on, acknowledge_posts no: no acknowledgement")
    inst.config("team", "acknowledge_posts", "yes")
    post(B, subject="ack me please")
    n = inst.archive_numbers("team")[-1]
    acks = notes("post_ack", B)
    t.ok(len(acks) == 1 and f"post number {n}" in body_text(acks[0]) and "ack me please" in body_text(acks[0]),
         "acknowledge_posts yes: 'your post N was distributed'", [body_text(x) for x in acks])
    post(B, extra="Auto-Submitted: auto-generated\n")
    t.eq(len(notes("post_ack", B)), 1, "no acknowledgement of an automatic post")
    post(A)
    t.eq(len(notes("post_ack", A)), 0, "no acknowledgement for a member who did not ask")
    files = corpus_files()
    jp = [f for f in files if "ja" in os.path.basename(f).lower() or "iso-2022" in f.lower()]
    if not jp:
        t.skip("a corpus post gets its acknowledgement", "no Japanese mail in the shared corpus")
    else:
        raw = open(jp[0], "rb").read()
        raw = re.sub(rb"(?mi)^(From|Sender|Return-Path|Message-ID):.*\n(?:[ \t].*\n)*", b"", raw, count=0)
        raw = f"From: {B}\nMessage-ID: <corpus.{time.time_ns()}@example.org>\n".encode() + raw
        r = inst.deliver("team", raw, sender=B)
        if r.returncode == 0 and len(inst.archive_numbers("team")) and len(notes("post_ack", B)) == 2:
            t.ok("post number" in body_text(notes("post_ack", B)[-1]), f"a corpus post ({os.path.basename(jp[0])}) is acknowledged")
        else:
            t.ok(r.returncode == 0, f"a corpus post ({os.path.basename(jp[0])}) is accepted", r.stderr)

    # ---- notify_membership -----------------------------------------------
    E = f"erin@{MD}"
    inst.check("subscribe", "team", E)
    inst.check("unsubscribe", "team", E)
    t.eq(len(notes("notice_subscribe", OWNER)) + len(notes("notice_unsubscribe", OWNER)), 0,
         "notify_membership no: the owner gets no notices")
    inst.config("team", "notify_membership", "yes")
    inst.check("subscribe", "team", E)
    got = notes("notice_subscribe", OWNER)
    t.ok(len(got) == 1 and E in body_text(got[0]) and E in got[0]["Subject"], "CLI subscribe: one notice to the owner",
         [m["Subject"] for m in got])
    inst.check("subscribe", "team", E)
    t.eq(len(notes("notice_subscribe", OWNER)), 1, "subscribing a member again: no second notice")
    inst.check("unsubscribe", "team", E)
    t.eq(len(notes("notice_unsubscribe", OWNER)), 1, "CLI unsubscribe: one notice")
    inst.config("team", "subscribe_policy", "open")
    ctl(E, "subscribe")
    t.eq(len(notes("notice_subscribe", OWNER)), 2, "command mail subscribe: a notice")
    ctl(OWNER, f"admin pass owner-pass-123\nadmin chaddr {E} frank@{MD}")
    got = notes("notice_chaddr", OWNER)
    t.ok(len(got) == 1 and E in body_text(got[0]) and f"frank@{MD}" in body_text(got[0]),
         "admin chaddr: one notice naming both addresses", [body_text(m) for m in got])
    ctl(f"frank@{MD}", "unsubscribe")
    confirm_last(f"frank@{MD}", "confirm_unsubscribe")
    t.eq(len(notes("notice_unsubscribe", OWNER)), 2, "command mail unsubscribe (confirmed): a notice")

    inst.newlist("jteam", owner=OWNER)
    inst.config("jteam", "language", "ja")
    inst.config("jteam", "notify_membership", "yes")
    inst.check("subscribe", "jteam", A)
    got = [m for m in notes("notice_subscribe", OWNER) if m.get("X-ML-Name") == "jteam"]
    t.ok(len(got) == 1 and "参加しました" in got[0]["Subject"] and "メンバー" in body_text(got[0]),
         "a Japanese list's notice is in Japanese", [m["Subject"] for m in got])

    # ---- auto-responders -------------------------------------------------
    inst.config("team", "autorespond_ctl", "yes")
    inst.config("team", "autorespond_ctl_text", "Commands are read on Mondays.")
    ctl(A, "help")
    got = notes("autoresponse", A)
    t.ok(len(got) == 1 and "read on Mondays" in body_text(got[0]) and got[0]["Auto-Submitted"] == "auto-replied",
         "autorespond_ctl: the text goes to the sender (Auto-Submitted: auto-replied)", [body_text(m) for m in got])
    ctl(A, "help")
    t.eq(len(notes("autoresponse", A)), 1, "one auto-response per sender within autorespond_grace")
    inst.config("team", "autorespond_grace", "0")
    ctl(A, "help")
    t.eq(len(notes("autoresponse", A)), 2, "autorespond_grace 0: every mail is answered")
    inst.config("team", "autorespond_grace", "90d")
    inst.config("team", "autorespond_posts", "yes")
    inst.config("team", "autorespond_posts_text", "Thanks for posting.")
    post(C)
    got = notes("autoresponse", C)
    t.ok(len(got) == 1 and "Thanks for posting." in body_text(got[0]), "autorespond_posts: the author is answered",
         [body_text(m) for m in got])
    post(C)
    t.eq(len(notes("autoresponse", C)), 1, "autorespond_posts: once within the grace period")
    post(A, extra="Auto-Submitted: auto-generated\n")
    post(A, extra="Precedence: bulk\n")
    t.eq(len([m for m in notes("autoresponse", A) if "posting" in body_text(m)]), 0,
         "no auto-response to an automatic post (Auto-Submitted, Precedence: bulk)")
    inst.config("team", "autorespond_admin", "yes")
    inst.config("team", "autorespond_admin_text", "The owners answer within a week.")
    X = f"xavier@{MD}"
    r = inst.deliver("team", make_msg(subject="question", frm=X, to=f"team-admin@{DOMAIN}"), sender=X, mode="--admin")
    t.eq(r.returncode, 0, "mail to -admin accepted")
    got = notes("autoresponse", X)
    fwd = [m for rcpts, m in mails(lambda m: m.get("X-Kairan-Forwarded")) if OWNER in rcpts]
    t.ok(len(got) == 1 and "within a week" in body_text(got[0]) and fwd, "autorespond_admin: forwarded and answered",
         [body_text(m) for m in got])
    Y = f"yvonne@{MD}"
    r = inst.deliver("team", make_msg(subject="away", frm=Y, to=f"team-admin@{DOMAIN}",
                                      extra="Auto-Submitted: auto-replied\n"), sender=Y, mode="--admin")
    t.eq(len(notes("autoresponse", Y)), 0, "no auto-response to an automatic mail to -admin")

    # ---- REST API and the web options page --------------------------------
    tok = inst.check("api-token", "new").strip()
    inst.check("passwd", "team", B, stdin=b"bob-pop-pass-1\n")
    with WebServer(inst) as server:
        web = WebClient(inst, server=server)

        def api(method, path, body=None):
            h = {"Authorization": "Bearer " + tok}
            data = json.dumps(body).encode() if body is not None else None
            r = web.request(method, "/api/v1" + path, raw_body=data, headers=h,
                            content_type="application/json" if data is not None else None)
            try:
                r.json = json.loads(r.body)
            except ValueError:
                r.json = None
            return r

        r = api("GET", "/lists/team/members")
        m = {x["address"]: x for x in r.json["members"]} if r.json else {}
        t.ok(m.get(A, {}).get("receive_own_posts") is False and m.get(B, {}).get("nodupes") is True
             and m.get(Dd, {}).get("hide_address") is True and m.get(A, {}).get("vacation_until") is None,
             "API GET members shows the options", m.get(A))
        qa = urllib.parse.quote
        r = api("PATCH", f"/lists/team/members/{qa(Dd)}", {"vacation_until": FUTURE, "nodupes": True})
        t.ok(r.status == 200 and r.json["vacation_until"] == FUTURE and r.json["nodupes"] is True,
             "API PATCH sets vacation_until and nodupes", r.json)
        t.eq(post(C), {A, B}, "API vacation: no posts to the member (nor to carol, who opted out)")
        r = api("PATCH", f"/lists/team/members/{qa(Dd)}", {"vacation_until": None, "colour": True})
        t.ok(r.status == 422 and "colour" in r.json["error"] and "vacation_until" in r.json["error"],
             "API PATCH with an unknown option: 422 naming it and the valid ones", r.json)
        t.eq(opts(Dd)["vacation"], f"until {FUTURE}", "a refused PATCH changes nothing (all or nothing)")
        r = api("PATCH", f"/lists/team/members/{qa(Dd)}", {"vacation_until": "2026-02-30"})
        t.ok(r.status == 422 and "vacation" in r.json["error"], "API PATCH with a bad date: 422", r.json)
        r = api("PATCH", f"/lists/team/members/{qa(Dd)}", {"nodupes": "yes"})
        t.ok(r.status == 422 and "true or false" in r.json["error"], "API PATCH with a string for a flag: 422", r.json)
        r = api("PATCH", f"/lists/team/members/{qa(Dd)}", {"vacation_until": None})
        t.ok(r.status == 200 and r.json["vacation_until"] is None, "API PATCH vacation_until null: no pause", r.json)
        r = api("PATCH", f"/lists/team/members/{qa('nobody@' + MD)}", {"nodupes": True})
        t.eq(r.status, 404, "API PATCH of a non-member: 404")
        r = api("GET", "/openapi.json")
        spec = r.json
        try:
            import jsonschema
            import warnings
            warnings.simplefilter("ignore", DeprecationWarning)
            resolver = jsonschema.RefResolver.from_schema(spec)
            r1 = api("PATCH", f"/lists/team/members/{qa(Dd)}", {"hide_address": False})
            r2 = api("GET", f"/lists/team/members/{qa(Dd)}")
            val = jsonschema.Draft202012Validator({"$ref": "#/components/schemas/Member"}, resolver=resolver)
            t.ok(r1.status == 200 and val.is_valid(r1.json) and val.is_valid(r2.json),
                 "PATCH and GET answers match the Member schema of openapi.json", r1.json)
            pv = jsonschema.Draft202012Validator({"$ref": "#/components/schemas/MemberPatch"}, resolver=resolver)
            t.ok(pv.is_valid({"nodupes": True}) and not pv.is_valid({"colour": 1}) and not pv.is_valid({}),
                 "openapi.json describes the PATCH body strictly")
        except ImportError:
            t.skip("PATCH answers match openapi.json", "python3-jsonschema not installed")

        # web options page: bob logs in with his POP3 password
        r = web.login("team", B, "bob-pop-pass-1")
        t.eq(r.status, 303, "member login")
        page = web.get("/list/team/options").text
        t.ok('name="nodupes" value="on" checked' in page and 'name="acknowledge"' in page,
             "the options page shows nodupes on and offers acknowledge")
        r = web.form_post("/list/team/options", data={"action": "save", "options": "1", "receive_own_posts": "on",
                                                       "hide_address": "on", "vacation": FUTURE})
        o = opts(B)
        t.ok(r.status == 200 and o["nodupes"] == "off" and o["hide_address"] == "on" and o["acknowledge"] == "off"
             and o["vacation"] == f"until {FUTURE}" and o["receive_own_posts"] == "on",
             "web options: the checkboxes and the vacation date are saved", o)
        t.ok(f'value="{FUTURE}"' in web.get("/list/team/options").text, "the page shows the vacation date")
        r = web.form_post("/list/team/options", data={"action": "save", "options": "1", "vacation": "31/12/2026"})
        t.ok("vacation" in r.text and opts(B)["vacation"] == f"until {FUTURE}",
             "web options: a bad date is an error and changes nothing", opts(B))
        # the owner's members page marks hidden and vacationing members
        inst.check("member-set", "team", A, "vacation", FUTURE)
        own = WebClient(inst, server=server)
        t.eq(own.login("team", OWNER, "owner-pass-123").status, 303, "owner login")
        page = own.get("/admin/team/members").text
        rows = {m.group(1): m.group(0) for m in re.finditer(r"<tr>.*?(\w+@example\.test).*?</tr>", page, re.S)}
        t.ok("hidden" in rows.get(B, "") and "vacation" in rows.get(A, "") and "hidden" not in rows.get(C, "x hidden"),
             "the owner's members page shows hidden and vacation tags", {k: v[-200:] for k, v in rows.items()})
        inst.check("member-set", "team", A, "vacation", "off")

        # the same page through the CGI
        cg = WebClient(inst, cgi=True)
        t.eq(cg.login("team", B, "bob-pop-pass-1").status, 303, "CGI: member login")
        r = cg.form_post("/list/team/options", data={"action": "save", "options": "1", "receive_own_posts": "on",
                                                      "nodupes": "on", "hide_address": "on", "vacation": ""})
        o = opts(B)
        t.ok(r.status == 200 and o["nodupes"] == "on" and o["vacation"] == "off",
             "CGI options: nodupes on, an empty date ends the pause", o)
        r = web.form_post("/list/team/options", data={"action": "unsubscribe"})
        t.eq(len(notes("notice_unsubscribe", OWNER)), 3, "leaving on the web options page: a notice to the owner")
        r = api("POST", "/lists/team/members", {"address": B})
        t.eq(r.status, 201, "API POST member")
        t.eq(len([m for m in notes("notice_subscribe", OWNER) if m.get("X-ML-Name") == "team"]), 3,
             "API POST member: a notice to the owner")
        r = api("DELETE", f"/lists/team/members/{qa(B)}")
        t.eq(len(notes("notice_unsubscribe", OWNER)), 4, "API DELETE member: a notice to the owner")
finally:
    if relay:
        relay.stop()
    sink.cleanup()
t.done()
