#!/usr/bin/env python3
"""test_web_settings_text.py - the settings page's several-line settings
(s12-webfix), through both front ends (`kairan web` over HTTP and
cgi/kairan.cgi): the texts (*_text, footer), header_filters and the
pattern lists (banned, *_nonmembers) are textareas, not one-line inputs,
with rows sized to the content (at least 3); a pattern list shows one
pattern a line and is stored blank separated as `kairan config` stores
it; header rules show one rule a line; a text keeps its line ends (CRLF
from the browser stored as LF); sending the page back as the browser
shows it changes nothing; a bad pattern or rule is refused with an error
naming the key, the stored value kept and the typed lines shown again.
The effects are checked with real posts through `kairan deliver`: a
non-member matching a pattern typed on its own line is held, a post
matching the second header rule is held."""
import html
import re
import sqlite3

from kt import *

t = Tap()
OWNER, PW = "owner@example.org", "owner-pass-1"


def textarea(page, key):
    """(rows, text) of the textarea of key, or None when it is not one."""
    m = re.search(r'<textarea id="s-%s" name="%s" rows="(\d+)"[^>]*>(.*?)</textarea>' % (key, key), page, re.S)
    return (int(m.group(1)), html.unescape(m.group(2))) if m else None


def held(inst, subject):
    db = sqlite3.connect(inst.path("kairan.db"), timeout=30)
    rows = db.execute("SELECT reason FROM held WHERE list = 'team' AND subject = ?", (subject,)).fetchall()
    db.close()
    return [r[0] for r in rows]


def crlf(s):
    return s.replace("\n", "\r\n")


def scenario(kind):
    inst = Instance()
    inst.newlist("team", owner=OWNER, password=PW)
    inst.subscribe("team", "member@example.org")
    server = None
    try:
        if kind == "http":
            port = free_port()
            set_global(inst, "web_url", f"http://127.0.0.1:{port}")
            server = WebServer(inst, port=port)
            c = WebClient(inst, server=server)
        else:
            set_global(inst, "web_url", "http://www.example.test/cgi-bin/kairan.cgi")
            c = WebClient(inst, cgi=True)
        P = f"[{kind}] "
        r = c.form_post("/login", data={"address": OWNER, "password": PW})
        t.eq(r.status, 303, P + "the owner logs in")

        # ---- every several-line setting is a textarea ----
        page = c.get("/admin/team/settings").text
        multi = ["footer", "autorespond_posts_text", "autorespond_admin_text", "autorespond_ctl_text",
                 "header_filters", "banned", "accept_nonmembers", "hold_nonmembers", "reject_nonmembers",
                 "discard_nonmembers"]
        missing = [k for k in multi if textarea(page, k) is None]
        t.eq(missing, [], P + "texts, header_filters and the pattern lists are textareas")
        inputs = [k for k in multi if re.search(r'<input type="text" id="s-%s"' % k, page)]
        t.eq(inputs, [], P + "and none of them is a one-line input any more")
        t.ok(re.search(r'<input type="text" id="s-description"', page) is not None,
             P + "a one-line setting (description) is still an input")
        t.eq(textarea(page, "banned"), (3, ""), P + "an empty textarea has 3 rows")

        # ---- pattern lists: one a line, stored blank separated ----
        inst.config("team", "banned", "a@x.example *@spam.example ^bad-[0-9]+@")
        page = c.get("/admin/team/settings").text
        t.eq(textarea(page, "banned"), (4, "a@x.example\n*@spam.example\n^bad-[0-9]+@"),
             P + "banned as set by the CLI: one pattern a line, rows = lines + 1")
        r = c.form_post("/admin/team/settings", data={"section": "Moderation",
                                                      "hold_nonmembers": "guest@visitors.example\r\n*@partners.example\r\n\r\n"})
        t.ok(r.status == 200 and "Settings saved" in r.text, P + "hold_nonmembers saved from lines", r.status)
        t.eq(inst.check("config", "team", "hold_nonmembers").strip(), "guest@visitors.example *@partners.example",
             P + "stored blank separated, as `kairan config` stores patterns")
        inst.deliver("team", make_msg(subject="from a partner", frm="bob@Partners.Example"),
                     sender="bob@partners.example")
        reasons = held(inst, "from a partner")
        t.ok(len(reasons) == 1 and "hold_nonmembers" in reasons[0],
             P + "a non-member matching the second line's pattern is held", reasons)
        inst.deliver("team", make_msg(subject="from a stranger", frm="eve@elsewhere.example"),
                     sender="eve@elsewhere.example")
        t.eq(held(inst, "from a stranger"), [], P + "one matching no line is not held by that rule")

        r = c.form_post("/admin/team/settings", data={"section": "Moderation",
                                                      "banned": "good@x.example\r\nno-at-sign\r\n"})
        t.eq(r.status, 400, P + "a bad pattern answers 400")
        t.ok("banned: 'no-at-sign'" in html.unescape(r.text),
             P + "the error names the key and the pattern", re.findall(r'field-error">([^<]*)', r.text))
        shown = textarea(r.text, "banned")
        t.eq(shown and shown[1].replace("\r\n", "\n"), "good@x.example\nno-at-sign\n",
             P + "the typed lines are shown again")
        t.eq(inst.check("config", "team", "banned").strip(), "a@x.example *@spam.example ^bad-[0-9]+@",
             P + "the stored banned is kept")

        # ---- header rules: one a line ----
        r = c.form_post("/admin/team/settings", data={"section": "Moderation", "header_filters":
                        "X-Spam-Flag: ^YES -> discard\r\nSubject: cheap\\;pills -> hold\r\n"})
        t.ok(r.status == 200, P + "header_filters saved from two lines", r.status)
        t.eq(inst.check("config", "team", "header_filters").strip(),
             "X-Spam-Flag: ^YES -> discard; Subject: cheap\\;pills -> hold",
             P + "stored as `kairan config` stores rules (the escaped ';' kept)")
        page = c.get("/admin/team/settings").text
        t.eq(textarea(page, "header_filters"), (3, "X-Spam-Flag: ^YES -> discard\nSubject: cheap\\;pills -> hold"),
             P + "shown one rule a line")
        inst.deliver("team", make_msg(subject="cheap;pills here"))
        reasons = held(inst, "cheap;pills here")
        t.ok(len(reasons) == 1 and "Subject: cheap\\;pills -> hold" in reasons[0],
             P + "a member's post matching the second rule is held, the reason naming the rule",
             reasons)
        r = c.form_post("/admin/team/settings", data={"section": "Moderation", "header_filters":
                        "X-Spam-Flag: ^YES -> discard\r\nSubject: (broken -> hold\r\n"})
        t.ok(r.status == 400 and "header_filters: rule 2" in r.text, P + "a bad rule is refused naming the key and rule",
             re.findall(r'field-error">([^<]*)', r.text))
        t.eq(inst.check("config", "team", "header_filters").strip(),
             "X-Spam-Flag: ^YES -> discard; Subject: cheap\\;pills -> hold", P + "the stored rules are kept")

        # ---- texts keep their line ends ----
        text = "We are away until Monday.\n\n  Indented line\nLast line & <b>"
        r = c.form_post("/admin/team/settings", data={"section": "Moderation", "autorespond_posts_text": crlf(text)})
        t.eq(inst.check("config", "team", "autorespond_posts_text"), text + "\n",
             P + "a text from the textarea: its lines and blank line kept, CRLF stored as LF")
        page = c.get("/admin/team/settings").text
        t.eq(textarea(page, "autorespond_posts_text"), (5, text), P + "shown again as stored, rows = lines + 1")
        t.ok("Last line &amp; &lt;b&gt;" in page, P + "HTML-escaped in the textarea")

        # ---- the page sent back as shown changes nothing ----
        sections = re.findall(r'<form method="post" action="[^"]*/admin/team/settings#sec-[a-z]+" class="settings" '
                              r'data-section="[a-z]+">(.*?)</form>', page, re.S)
        before = inst.check("config", "team")
        answers = []
        for body in sections:
            data = {"section": html.unescape(re.search(r'name="section" value="([^"]*)"', body).group(1))}
            for k, v in re.findall(r'<textarea id="s-[^"]+" name="([^"]+)" rows="\d+" cols="60">(.*?)</textarea>', body, re.S):
                data[k] = crlf(html.unescape(v))
            for k, v in re.findall(r'<input type="text" id="s-[^"]+" name="([^"]+)" value="([^"]*)">', body):
                data[k] = html.unescape(v)
            for k, sel in re.findall(r'<select id="s-[^"]+" name="([^"]+)">(.*?)</select>', body, re.S):
                m = re.search(r'<option value="([^"]*)" selected>', sel)
                data[k] = html.unescape(m.group(1)) if m else ""
            answers.append(c.form_post("/admin/team/settings", data=data).text)
        t.ok(len(answers) >= 5 and all("Nothing was changed." in a for a in answers),
             P + "every section sent back as shown (CRLF line ends): nothing was changed",
             [re.findall(r'alert[^>]*>([^<]*)', a) for a in answers])
        t.eq(inst.check("config", "team"), before, P + "kairan config shows the same values")
    finally:
        if server:
            server.stop()


scenario("http")
scenario("cgi")
t.done()
