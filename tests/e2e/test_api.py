#!/usr/bin/env python3
"""test_api.py - the REST API (/api/v1/, DESIGN.md "The REST API") end to
end through both front ends, `kairan web` over HTTP and cgi/kairan.cgi
under CGI/1.1, the way a script would use it: tokens from `kairan
api-token new` (instance and list tokens, revoked ones, bad ones), every
endpoint (lists, create, remove, settings with validation and If-Match,
members with paging and q, confirmation, held posts, the archive), bad
input (malformed JSON, unknown keys, bad values, wrong content type, a
body over 1 MB), the rate limit (429) and the log (token ids, never a
token).  Also curl and Python's urllib against `kairan web`, and `kairan
rmlist`.  Every JSON answer of the suite is validated against the
OpenAPI document the server serves at /api/v1/openapi.json (jsonschema,
Draft 2020-12, as OpenAPI 3.1 schemas are)."""
import glob
import json
import os
import re
import sqlite3
import subprocess
import urllib.error
import urllib.parse
import urllib.request

from kt import *

t = Tap()
OWNER = "owner@example.org"
SEEN = []          # (method, path, status, content-type, body) of every API answer


class Api:
    """A JSON client of /api/v1 over a WebClient (either front end)."""

    def __init__(self, web, token=None):
        self.web, self.token = web, token

    def call(self, method, path, body=None, token=None, content_type="application/json", raw=None, headers=None):
        h = dict(headers or {})
        tok = token if token is not None else self.token
        if tok:
            h["Authorization"] = "Bearer " + tok
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        r = self.web.request(method, "/api/v1" + path, raw_body=data, headers=h,
                             content_type=content_type if data is not None else None)
        ct = r.header("Content-Type") or ""
        r.json = None
        if ct.startswith("application/json"):
            try:
                r.json = json.loads(r.body)
            except ValueError:
                r.json = "NOT JSON"
        SEEN.append((method, path.split("?")[0], r.status, ct, r.json))
        return r


def big_request(server, path, tok, body):
    """PATCH with Expect: 100-continue, as curl sends a large body: the
    server may answer before the body is sent."""
    import socket
    s = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    s.sendall((f"PATCH {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {tok}\r\n"
               f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nExpect: 100-continue\r\n\r\n").encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    hdrs = [tuple(x.strip() for x in l.split(":", 1)) for l in lines[1:] if ":" in l]
    n = int(dict((k.lower(), v) for k, v in hdrs).get("content-length", "0"))
    while len(rest) < n:
        chunk = s.recv(65536)
        if not chunk:
            break
        rest += chunk
    s.close()
    r = WebResp(int(lines[0].split()[1]), hdrs, rest)
    r.json = json.loads(rest) if rest else None
    SEEN.append(("PATCH", path[len("/api/v1"):], r.status, r.header("Content-Type") or "", r.json))
    return r


def err_says(r, *words):
    return isinstance(r.json, dict) and set(r.json) == {"error"} and all(w in r.json["error"] for w in words)


def token(inst, *args):
    r = inst.run("api-token", "new", *args)
    return r.stdout.decode().strip()


def scenario(kind):
    inst = Instance()
    D = inst.domain
    inst.newlist("team", owner=OWNER)
    inst.newlist("other", owner=OWNER)
    inst.subscribe("team", "member@example.org")
    t.eq(inst.deliver("team", make_msg(subject="first post")).returncode, 0, f"[{kind}] a post is archived")
    inst.config("team", "post_policy", "moderated")
    inst.deliver("team", make_msg(subject="held one"))
    inst.deliver("team", make_msg(subject="held two", frm="Stranger <stranger@example.net>"), sender="stranger@example.net")
    inst.config("team", "post_policy", "members")
    ti = token(inst, "--name", "ops script")
    tl = token(inst, "--list", "team")
    tr = token(inst, "--name", "old")
    t.ok(re.fullmatch(r"kt_[0-9a-f]{40}", ti) and re.fullmatch(r"kt_[0-9a-f]{40}", tl), f"[{kind}] api-token new prints a token alone", ti)
    listing = inst.check("api-token", "list")
    t.ok("ops script" in listing and "team" in listing and ti not in listing, f"[{kind}] api-token list shows ids, scope and names, never tokens")
    revoke_id = re.search(r"^(\d+)\s.*\bold$", listing, re.M).group(1)
    t.eq(inst.run("api-token", "revoke", revoke_id).returncode, 0, f"[{kind}] api-token revoke")
    t.eq(inst.run("api-token", "revoke", "999").returncode, 67, f"[{kind}] api-token revoke of an unknown id exits 67")
    t.eq(inst.run("api-token", "new", "--list", "nosuch").returncode, 67, f"[{kind}] api-token new --list of no list exits 67")
    with open(inst.path("kairan.db"), "rb") as f:
        db_bytes = f.read()
    t.ok(ti.encode() not in db_bytes and tl.encode() not in db_bytes, f"[{kind}] tokens are stored hashed only")

    server = None
    if kind == "http":
        port = free_port()
        set_global(inst, "web_url", f"http://127.0.0.1:{port}")
        server = WebServer(inst, port=port)
        web = WebClient(inst, server=server)
    else:
        set_global(inst, "web_url", "http://www.example.test/cgi-bin/kairan.cgi")
        web = WebClient(inst, cgi=True)
    P = f"[{kind}] "
    a = Api(web, ti)
    al = Api(web, tl)
    try:
        # authorisation
        r = a.call("GET", "/lists", token="")
        t.ok(r.status == 401 and err_says(r, "Bearer") and "Bearer" in (r.header("WWW-Authenticate") or ""),
             P + "no token: 401 with WWW-Authenticate", (r.status, r.text))
        r = a.call("GET", "/lists", token="kt_" + "0" * 40)
        t.ok(r.status == 401 and err_says(r, "unknown"), P + "an unknown token: 401", r.text)
        r = a.call("GET", "/lists", token="not even a token")
        t.eq(r.status, 401, P + "a malformed token: 401")
        r = a.call("GET", "/lists", token=tr)
        t.ok(r.status == 401 and err_says(r, "revoked"), P + "a revoked token: 401 saying so", r.text)
        r = web.request("GET", "/api/v1/lists", headers={"Authorization": "Basic " + ti})
        t.eq(r.status, 401, P + "another auth scheme: 401")

        # lists
        r = a.call("GET", "/lists")
        names = [x["name"] for x in r.json] if r.status == 200 else []
        t.ok(r.status == 200 and names == ["other", "team"], P + "GET /lists with an instance token: every list", r.text)
        team = next((x for x in r.json if x["name"] == "team"), {}) if r.status == 200 else {}
        t.ok(team.get("address") == f"team@{D}" and team.get("members") == 1 and team.get("posts") == 1 and team.get("domain") == D,
             P + "a list's address, domain, members and posts", team)
        r = al.call("GET", "/lists")
        t.ok(r.status == 200 and [x["name"] for x in r.json] == ["team"], P + "a list token sees its list only", r.text)
        r = a.call("GET", "/lists/team")
        t.ok(r.status == 200 and r.json["settings"]["post_policy"] == "members" and r.header("ETag"),
             P + "GET /lists/LIST: the list, its settings and an ETag", r.text[:300])
        all_keys = set(inst.check("config", "team").split())
        t.ok(r.status == 200 and set(r.json["settings"]) <= all_keys and len(r.json["settings"]) > 20, P + "every setting is there")
        r = a.call("GET", urllib.parse.quote(f"/lists/team@{D}"))
        t.eq(r.status, 200, P + "LIST as NAME@DOMAIN, percent-encoded")
        r = a.call("GET", "/lists/team@elsewhere.example")
        t.ok(r.status == 404 and err_says(r), P + "NAME@another domain: 404", r.text)
        r = a.call("GET", "/lists/nosuch")
        t.ok(r.status == 404 and err_says(r, "nosuch"), P + "no such list: 404", r.text)
        r = al.call("GET", "/lists/other")
        t.ok(r.status == 403 and err_says(r, "team"), P + "a list token on another list: 403", r.text)
        r = al.call("GET", "/lists/other/members")
        t.eq(r.status, 403, P + "... on its members too")
        r = a.call("GET", "/nothing")
        t.eq(r.status, 404, P + "unknown endpoint: 404")
        r = a.call("PUT", "/lists/team")
        t.ok(r.status == 405 and "GET" in (r.header("Allow") or ""), P + "unknown method: 405 with Allow", (r.status, r.header("Allow")))

        if kind == "cgi":
            # found by fuzz_api: a method of invalid UTF-8 came back inside the JSON error
            r = a.call("G\udcfeT", "/lists")
            t.ok(r.status == 405 and err_says(r), P + "a method that is no UTF-8: 405, still valid JSON", r.body[:200])

        # settings
        etag = a.call("GET", "/lists/team").header("ETag")
        r = a.call("PATCH", "/lists/team/settings", {"max_size": 50000, "reply_to": "list", "send_to_author": False})
        t.ok(r.status == 200 and r.json["settings"]["max_size"] == "50000" and r.json["settings"]["reply_to"] == "list" and r.json["settings"]["send_to_author"] == "no",
             P + "PATCH settings: 200 with the new values", r.text[:300])
        t.ok("50000" in inst.check("config", "team", "max_size") and "list" in inst.check("config", "team", "reply_to"),
             P + "the CLI sees the change")
        r = a.call("PATCH", "/lists/team/settings", {"max_size": 1}, headers={"If-Match": etag})
        t.ok(r.status == 412 and err_says(r), P + "If-Match with a stale ETag: 412, nothing changed", r.text)
        etag = a.call("GET", "/lists/team").header("ETag")
        r = a.call("PATCH", "/lists/team/settings", {"max_size": 60000}, headers={"If-Match": etag})
        t.eq(r.status, 200, P + "If-Match with the current ETag: 200")
        r = a.call("PATCH", "/lists/team/settings", {"reply_to": "author", "post_policy": "bogus"})
        t.ok(r.status == 422 and err_says(r, "post_policy", "bogus"), P + "a bad value: 422 naming key and value", r.text)
        t.ok("list" in inst.check("config", "team", "reply_to"), P + "... and the good key of that PATCH was not applied either")
        cli = inst.run("config", "team", "post_policy", "bogus")
        t.ok(isinstance(r.json, dict) and cli.stderr.decode().strip().endswith(": " + r.json.get("error", "?")),
             P + "the API's message is the CLI's (one validation)", (cli.stderr, r.json))
        r = a.call("PATCH", "/lists/team/settings", {"no_such_key": "1"})
        t.ok(r.status == 422 and err_says(r, "no_such_key"), P + "an unknown key: 422 naming it", r.text)
        r = a.call("PATCH", "/lists/team/settings", {"max_size": -5})
        t.ok(r.status == 422 and err_says(r, "max_size"), P + "a negative number: 422", r.text)
        r = a.call("PATCH", "/lists/team/settings", {"max_size": {"x": 1}})
        t.ok(r.status == 422 and err_says(r, "max_size"), P + "an object as a value: 422", r.text)
        r = a.call("PATCH", "/lists/team/settings", ["max_size"])
        t.ok(r.status == 400 and err_says(r, "object"), P + "a JSON array as the body: 400", r.text)
        r = a.call("PATCH", "/lists/team/settings", raw=b'{"max_size": 5', content_type="application/json")
        t.ok(r.status == 400 and err_says(r, "malformed"), P + "malformed JSON: 400", r.text)
        r = a.call("PATCH", "/lists/team/settings", raw=b"max_size=5", content_type="application/x-www-form-urlencoded")
        t.ok(r.status == 415 and err_says(r, "application/json"), P + "a form body: 415", r.text)
        r = a.call("PATCH", "/lists/team/settings", raw=b'{"max_size": 5}', content_type="text/plain")
        t.eq(r.status, 415, P + "text/plain: 415")
        r = a.call("PATCH", "/lists/team/settings", raw=b'{"max_size": 70000}', content_type="application/json; charset=utf-8")
        t.eq(r.status, 200, P + "application/json; charset=utf-8 is JSON")
        big = json.dumps({"description": "x" * (1024 * 1024 + 10)}).encode()
        if kind == "http":
            r = big_request(server, "/api/v1/lists/team/settings", ti, big)
        else:
            r = a.call("PATCH", "/lists/team/settings", raw=big)
        t.ok(r.status == 413 and err_says(r), P + "a body over 1 MB: 413 in JSON", (r.status, r.text[:200]))
        t.ok("70000" in inst.check("config", "team", "max_size") and "xxx" not in inst.check("config", "team", "description"),
             P + "none of the refused bodies changed a setting")

        # members
        r = a.call("POST", "/lists/team/members", {"address": "anna@Example.ORG", "name": "Anna A"})
        t.ok(r.status == 201 and r.json["address"] == "anna@example.org" and r.json["name"] == "Anna A"
             and r.json["delivery"] == "enabled" and r.header("Location"), P + "add a member: 201", r.text)
        t.ok("anna@example.org" in inst.check("members", "team"), P + "kairan members shows the new member")
        r = a.call("POST", "/lists/team/members", {"address": "anna@example.org"})
        t.ok(r.status == 409 and err_says(r, "already"), P + "twice: 409", r.text)
        r = a.call("POST", "/lists/team/members", {"address": "not an address"})
        t.ok(r.status == 422 and err_says(r, "address"), P + "an invalid address: 422", r.text)
        r = a.call("POST", "/lists/team/members", {"address": f"other@{D}"})
        t.ok(r.status == 422 and err_says(r, "list"), P + "a list address is refused as the web refuses it", r.text)
        inst.config("team", "banned", "*@spam.example")
        r = a.call("POST", "/lists/team/members", {"address": "x@spam.example"})
        t.ok(r.status == 422 and err_says(r, "banned"), P + "a banned address is refused", r.text)
        r = a.call("POST", "/lists/team/members", {"address": "y@spam.example", "confirm": True})
        t.ok(r.status == 422 and err_says(r, "banned"), P + "... also with confirm", r.text)
        t.ok("spam.example" not in inst.check("members", "team") and not notices(inst, to="y@spam.example"),
             P + "refused addresses are no members and get no mail")
        r = a.call("POST", "/lists/team/members", {"address": "anna2@example.org", "nick": "A"})
        t.ok(r.status == 422 and err_says(r, "nick"), P + "an unknown key: 422 naming it", r.text)
        r = a.call("POST", "/lists/team/members", {"address": "anna2@example.org", "confirm": "yes"})
        t.ok(r.status == 422 and err_says(r, "confirm"), P + "confirm must be a boolean", r.text)
        inst.clear_queue()
        r = a.call("POST", "/lists/team/members", {"address": "carl@example.org", "confirm": True})
        t.ok(r.status == 202 and r.json.get("address") == "carl@example.org", P + "confirm: 202", r.text)
        conf = notices(inst, "confirm_subscribe", to="carl@example.org")
        t.ok(len(conf) == 1 and "carl@example.org" not in inst.check("members", "team"),
             P + "a confirmation went to the address, which is no member yet", [q["msg"]["X-Kairan-Notice"] for q in inst.queue()])
        links = confirm_links(inst)
        if links:
            path = "/confirm/" + links[0].rsplit("/", 1)[1]
            page = web.get(path)
            if "csrf" in page.text:
                web.form_post(path, data={})
            t.ok("carl@example.org" in inst.check("members", "team"), P + "the confirmation link makes carl a member")
        else:
            t.ok(False, P + "the confirmation mail has a link")
        for i in range(12):
            inst.check("subscribe", "team", f"page{i:02d}@example.net")
        r = a.call("GET", "/lists/team/members?limit=5&offset=0")
        t.ok(r.status == 200 and r.json["total"] == 15 and len(r.json["members"]) == 5, P + "paging: total and limit", r.text[:300])
        first = [m["address"] for m in r.json["members"]]
        r2 = a.call("GET", "/lists/team/members?limit=5&offset=5")
        t.ok(r2.status == 200 and not set(first) & {m["address"] for m in r2.json["members"]}, P + "offset gives the next page")
        r = a.call("GET", "/lists/team/members?limit=100")
        addrs = [m["address"] for m in r.json["members"]]
        t.ok(addrs == sorted(addrs) and len(addrs) == 15, P + "members in address order", addrs)
        r = a.call("GET", "/lists/team/members?q=page1")
        t.ok(r.status == 200 and r.json["total"] == 2 and all("page1" in m["address"] for m in r.json["members"]),
             P + "q searches addresses", r.text[:300])
        r = a.call("GET", "/lists/team/members?q=ANNA%20A")
        t.ok(r.status == 200 and [m["address"] for m in r.json["members"]] == ["anna@example.org"], P + "q searches names, any case", r.text[:300])
        r = a.call("GET", "/lists/team/members?q=%25")
        t.eq(r.json["total"] if r.status == 200 else None, 0, P + "q=% is a literal %, no wildcard")
        for bad in ("limit=0", "limit=abc", "offset=-1", "limit=100000"):
            r = a.call("GET", "/lists/team/members?" + bad)
            t.ok(r.status == 400 and err_says(r), P + f"bad paging {bad}: 400", r.text)
        r = a.call("GET", "/lists/team/members/anna%40example.org")
        t.ok(r.status == 200 and r.json["name"] == "Anna A", P + "GET one member", r.text)
        # the member's options (s12-memb): PATCH, validated against openapi.json below
        r = a.call("PATCH", "/lists/team/members/anna%40example.org", {"nodupes": True, "vacation_until": "2099-01-31"})
        t.ok(r.status == 200 and r.json["nodupes"] is True and r.json["vacation_until"] == "2099-01-31",
             P + "PATCH a member's options", r.text)
        r = a.call("PATCH", "/lists/team/members/anna%40example.org", {"nodupes": False, "colour": "red"})
        t.ok(r.status == 422 and err_says(r, "colour"), P + "PATCH an unknown option: 422 naming it", r.text)
        r = a.call("PATCH", "/lists/team/members/nobody%40example.org", {"nodupes": True})
        t.ok(r.status == 404 and err_says(r), P + "PATCH a non-member: 404", r.text)
        r = a.call("DELETE", "/lists/team/members/anna%40example.org")
        t.ok(r.status == 204 and r.body == b"", P + "DELETE a member: 204, empty body")
        t.ok("anna@example.org" not in inst.check("members", "team"), P + "... gone for the CLI")
        r = a.call("DELETE", "/lists/team/members/anna%40example.org")
        t.ok(r.status == 404 and err_says(r), P + "again: 404", r.text)
        r = al.call("POST", "/lists/team/members", {"address": "listtok@example.org"})
        t.eq(r.status, 201, P + "a list token manages its own list's members")

        # held posts
        r = a.call("GET", "/lists/team/held")
        held = r.json if r.status == 200 else []
        t.ok(len(held) == 2 and {h["subject"] for h in held} == {"held one", "held two"} and all(h["reason"] for h in held),
             P + "GET held: both held posts with subject and reason", r.text)
        by = {h["subject"]: h for h in held}
        if len(held) == 2:
            r = a.call("POST", f"/lists/team/held/{by['held one']['id']}", {"action": "approve"})
            t.ok(r.status == 200 and r.json.get("number") == 2, P + "approve: 200 with the post number", r.text)
            t.ok(inst.archive("team", 2) is not None and "held one" in str(inst.archive("team", 2)["Subject"]), P + "the approved post is archived")
            inst.clear_queue()
            r = a.call("POST", f"/lists/team/held/{by['held two']['id']}", {"action": "reject", "reason": "off topic"})
            t.eq(r.status, 200, P + "reject: 200")
            t.ok(any("off topic" in body_text(q["msg"]) for q in notices(inst, to="stranger@example.net")),
                 P + "the sender is told the reason", [q["rcpts"] for q in inst.queue()])
            r = a.call("POST", f"/lists/team/held/{by['held two']['id']}", {"action": "approve"})
            t.ok(r.status == 404 and err_says(r), P + "a held post already handled: 404", r.text)
        r = a.call("POST", "/lists/team/held/nosuch", {"action": "explode"})
        t.ok(r.status == 422 and err_says(r, "action"), P + "an unknown action: 422", r.text)
        r = a.call("POST", "/lists/team/held/nosuch", {"action": "discard"})
        t.eq(r.status, 404, P + "discard of no such held post: 404")
        r = a.call("GET", "/lists/team/held")
        t.eq(r.json, [], P + "no held posts left")

        # archive
        r = a.call("GET", "/lists/team/archive")
        t.ok(r.status == 200 and [p["number"] for p in r.json] == [1, 2] and r.json[0]["subject"].endswith("first post")
             and r.json[0]["message_id"] and r.json[0]["from"] == "member@example.org", P + "GET archive", r.text)
        r = a.call("GET", "/lists/team/archive?since=1&limit=10")
        t.ok(r.status == 200 and [p["number"] for p in r.json] == [2], P + "since=N gives the posts after N", r.text)
        r = a.call("GET", "/lists/team/archive?since=0&limit=1")
        t.ok(r.status == 200 and [p["number"] for p in r.json] == [1], P + "limit", r.text)
        r = a.call("GET", "/lists/team/archive/1")
        raw = open(inst.path("spool", "team", "archive", "1"), "rb").read()
        t.ok(r.status == 200 and (r.header("Content-Type") or "").startswith("message/rfc822") and r.body == raw,
             P + "GET archive/N: the post exactly as archived, message/rfc822", (r.status, r.header("Content-Type")))
        r = a.call("GET", "/lists/team/archive/99")
        t.ok(r.status == 404 and err_says(r), P + "no such post: 404", r.text)
        r = a.call("GET", "/lists/team/archive/x1")
        t.eq(r.status, 404, P + "a post number that is none: 404")

        # creating and removing lists
        r = a.call("POST", "/lists", {"name": "fresh", "owner": "boss@example.org", "description": "A fresh list"})
        t.ok(r.status == 201 and r.json["name"] == "fresh" and r.json["description"] == "A fresh list"
             and r.json["settings"]["owners"] == "boss@example.org", P + "POST /lists: 201 with the list", r.text[:300])
        t.ok("fresh" in inst.check("lists"), P + "kairan lists shows it")
        r = a.call("POST", "/lists", {"name": "fresh", "owner": "boss@example.org"})
        t.ok(r.status == 409 and err_says(r, "exists"), P + "the same name again: 409", r.text)
        r = a.call("POST", "/lists", {"name": "Bad Name!", "owner": "boss@example.org"})
        t.ok(r.status == 422 and err_says(r, "name"), P + "a bad name: 422", r.text)
        r = a.call("POST", "/lists", {"name": "x-admin", "owner": "boss@example.org"})
        t.ok(r.status == 422 and err_says(r, "-admin"), P + "a name ending in -admin: 422 (the CLI's rule)", r.text)
        r = a.call("POST", "/lists", {"name": "lost", "owner": "boss@example.org", "domain": "elsewhere.example"})
        t.ok(r.status == 422 and err_says(r, "domain"), P + "another domain: 422", r.text)
        r = a.call("POST", "/lists", {"name": "lost"})
        t.ok(r.status == 422 and err_says(r, "owner"), P + "no owner: 422", r.text)
        r = a.call("POST", "/lists", {"name": "lost", "owner": "boss@example.org", "description": "two\nlines"})
        t.ok(r.status == 422 and err_says(r, "description"), P + "a bad description: 422, no list made", r.text)
        r = a.call("POST", "/lists", {"name": 7, "owner": "boss@example.org"})
        t.ok(r.status == 422 and err_says(r, "name"), P + "a number as the name: 422", r.text)
        t.ok("lost" not in inst.check("lists").split(), P + "no refused list was made")
        r = al.call("POST", "/lists", {"name": "sneaky", "owner": "boss@example.org"})
        t.ok(r.status == 403 and err_says(r, "instance token"), P + "POST /lists with a list token: 403", r.text)
        r = al.call("DELETE", "/lists/team")
        t.ok(r.status == 403 and "team" in inst.check("lists"), P + "DELETE with a list token: 403, the list stays", r.text)
        inst.subscribe("fresh", "someone@example.org")
        r = a.call("DELETE", "/lists/fresh")
        t.ok(r.status == 204, P + "DELETE /lists/LIST: 204", r.text)
        t.ok("fresh" not in inst.check("lists").split(), P + "the list is gone")
        t.ok(glob.glob(inst.path("removed", f"fresh@{D}-*")), P + "its spool is in HOME/removed/NAME@DOMAIN-DATE", os.listdir(inst.home))
        r = inst.deliver("fresh", make_msg(to=f"fresh@{D}"), sender="someone@example.org")
        t.eq(r.returncode, 67, P + "mail to the removed list gets 67")
        r = a.call("GET", "/lists/fresh")
        t.eq(r.status, 404, P + "GET of the removed list: 404")

        # the log: every call with its token's id, never a token
        log = inst.log()
        ids = re.findall(r"api: token (\d+) (GET|POST|PATCH|DELETE) /api/v1/\S+ -> \d{3}", log)
        t.ok(len(ids) > 40 and {i for i, _ in ids} == {"1", "2"}, P + "each call is logged with its token id", len(ids))
        t.ok("api: (no valid token)" in log, P + "refused calls are logged too")
        t.ok(ti not in log and tl not in log and tr not in log, P + "no token is ever logged")

        # openapi.json needs no token
        r = a.call("GET", "/openapi.json", token="")
        t.ok(r.status == 200 and isinstance(r.json, dict) and r.json.get("openapi", "").startswith("3.1"),
             P + "GET /api/v1/openapi.json: OpenAPI 3.1", r.text[:100])
        return r.json
    finally:
        if server:
            server.stop()


def rate_limit(kind):
    inst = Instance()
    inst.newlist("team", owner=OWNER)
    set_global(inst, "api_rate_limit", "5")
    tok, tok2 = token(inst), token(inst)
    server = WebServer(inst) if kind == "http" else None
    try:
        web = WebClient(inst, server=server, cgi=kind == "cgi")
        a = Api(web, tok)
        st = [a.call("GET", "/lists").status for _ in range(6)]
        r = a.call("GET", "/lists/team")
        t.ok(st == [200] * 5 + [429] and r.status == 429 and err_says(r, "5") and r.header("Retry-After"),
             f"[{kind}] the 6th call in a minute: 429 with Retry-After", st)
        t.eq(a.call("GET", "/lists", token=tok2).status, 200, f"[{kind}] the limit is per token")
    finally:
        if server:
            server.stop()


def script_clients():
    """curl and urllib as a script would use them, against kairan web."""
    inst = Instance()
    inst.newlist("team", owner=OWNER)
    tok = token(inst)
    with WebServer(inst) as server:
        base = server.url + "/api/v1"
        if which("curl"):
            r = subprocess.run(["curl", "-sS", "-w", "\n%{http_code}", "-H", f"Authorization: Bearer {tok}",
                                "-H", "Content-Type: application/json", "-d", '{"address": "curl@example.org"}',
                                base + "/lists/team/members"], capture_output=True, timeout=30)
            body, _, code = r.stdout.decode().rpartition("\n")
            t.ok(code == "201" and json.loads(body)["address"] == "curl@example.org", "curl -d adds a member", r.stdout)
            r = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-X", "PATCH",
                                "-H", f"Authorization: Bearer {tok}", "-H", "Content-Type: application/json",
                                "--data-binary", "@-", base + "/lists/team/settings"],
                               input=json.dumps({"description": "y" * (2 * 1024 * 1024)}).encode(), capture_output=True, timeout=30)
            t.eq(r.stdout.decode(), "413", "curl: a 2 MB body gets 413 before it is read")
            r = subprocess.run(["curl", "-sS", "-f", "-H", f"Authorization: Bearer {tok}", base + "/lists/team/members?q=curl"],
                               capture_output=True, timeout=30)
            t.ok(r.returncode == 0 and json.loads(r.stdout)["total"] == 1, "curl -f GET members?q=", r.stdout)
        else:
            t.skip("curl", "curl not installed")

        def call(method, path, body=None, tk=tok):
            req = urllib.request.Request(base + path, method=method,
                                         data=json.dumps(body).encode() if body is not None else None,
                                         headers={"Authorization": f"Bearer {tk}", "Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=30) as resp:
                    data = resp.read()
                    return resp.status, json.loads(data) if data else None
            except urllib.error.HTTPError as e:
                return e.code, json.loads(e.read())

        st, body = call("POST", "/lists/team/members", {"address": "py@example.org", "name": "Py Thon"})
        t.ok(st == 201 and body["name"] == "Py Thon", "urllib: POST a member", (st, body))
        st, body = call("GET", "/lists/team/members?limit=1")
        t.ok(st == 200 and body["total"] == 2 and len(body["members"]) == 1, "urllib: paging", body)
        st, body = call("PATCH", "/lists/team/settings", {"subscribe_policy": "nobody"})
        t.ok(st == 422 and "subscribe_policy" in body["error"], "urllib: HTTPError 422 carries the JSON error", body)
        st, body = call("GET", "/lists", tk="kt_" + "1" * 40)
        t.ok(st == 401 and "error" in body, "urllib: a bad token raises HTTPError 401 with a JSON body", body)
        st, body = call("DELETE", "/lists/team/members/py%40example.org")
        t.eq(st, 204, "urllib: DELETE a member")


def rmlist():
    inst = Instance()
    D = inst.domain
    inst.newlist("doomed", owner=OWNER)
    inst.subscribe("doomed", "member@example.org")
    inst.deliver("doomed", make_msg(to=f"doomed@{D}"))
    inst.config("doomed", "post_policy", "moderated")
    inst.deliver("doomed", make_msg(to=f"doomed@{D}", subject="held"))
    inst.check("api-token", "new", "--list", "doomed")
    r = inst.run("rmlist", "doomed")
    t.ok(r.returncode == 0 and "removed" in r.stdout.decode(), "rmlist LIST", r.stderr)
    moved = glob.glob(inst.path("removed", f"doomed@{D}-*"))
    t.ok(len(moved) == 1 and os.path.exists(os.path.join(moved[0], "archive", "1")) and os.listdir(os.path.join(moved[0], "held")),
         "its archive and held posts are kept in HOME/removed/NAME@DOMAIN-DATE/", moved)
    t.ok(not os.path.exists(inst.path("spool", "doomed")), "spool/LIST is gone")
    db = sqlite3.connect(inst.path("kairan.db"))
    left = {tb: db.execute(f"SELECT count(*) FROM {tb} WHERE list = 'doomed'").fetchone()[0]
            for tb in ("members", "list_settings", "archive", "held", "tokens", "api_tokens")}
    left["lists"] = db.execute("SELECT count(*) FROM lists WHERE name = 'doomed'").fetchone()[0]
    db.close()
    t.ok(not any(left.values()), "no row of the list is left", left)
    t.ok("doomed" not in open(inst.path("aliases")).read(), "the alias map no longer names it")
    t.eq(inst.deliver("doomed", make_msg(to=f"doomed@{D}")).returncode, 67, "mail to it afterwards: 67")
    t.eq(inst.run("rmlist", "doomed").returncode, 67, "rmlist of no list: 67")
    inst.newlist("doomed", owner=OWNER)
    t.ok(inst.check("members", "doomed").strip() == "" and not os.listdir(inst.path("spool", "doomed", "archive")),
         "a new list of the same name starts empty")
    r = inst.run("rmlist", f"doomed@{D}", "--purge")
    t.ok(r.returncode == 0 and len(glob.glob(inst.path("removed", f"doomed@{D}-*"))) == 1 and not os.path.exists(inst.path("spool", "doomed")),
         "rmlist NAME@DOMAIN --purge deletes the spool")
    t.eq(inst.run("rmlist", "x@elsewhere.example").returncode, 67, "rmlist of another domain's list: 67")


def validate_all(spec):
    """Every JSON answer of the suite against the schemas of spec."""
    try:
        import jsonschema
    except ImportError:
        t.skip("OpenAPI validation", "python3-jsonschema not installed")
        return
    if not spec:
        t.ok(False, "no OpenAPI document to validate against")
        return
    jsonschema.Draft202012Validator.check_schema({"$defs": spec["components"]["schemas"]})
    import warnings
    warnings.simplefilter("ignore", DeprecationWarning)
    resolver = jsonschema.RefResolver.from_schema(spec)

    def match(path):
        for tmpl in spec["paths"]:
            rx = "^" + re.sub(r"\{[^}]+\}", "[^/]+", tmpl[len("/api/v1"):]) + "$"
            if re.match(rx, path):
                return tmpl
        return None

    def response_schema(resp):
        if "$ref" in resp:
            resp = spec["components"]["responses"][resp["$ref"].rsplit("/", 1)[1]]
        return resp

    problems, checked, codes = [], 0, set()
    for method, path, status, ctype, body in SEEN:
        tmpl = match(path)
        op = spec["paths"].get(tmpl, {}).get(method.lower()) if tmpl else None
        if not op:
            if status in (404, 405):
                continue        # an endpoint or method that is not there
            problems.append(f"{method} {path}: not described")
            continue
        resp = op["responses"].get(str(status))
        if not resp:
            problems.append(f"{method} {path} -> {status}: status not described")
            continue
        resp = response_schema(resp)
        content = resp.get("content", {})
        if status == 204:
            continue
        if ctype.startswith("application/json"):
            schema = content.get("application/json", {}).get("schema")
            if schema is None:
                problems.append(f"{method} {path} -> {status}: no JSON schema")
                continue
            try:
                jsonschema.Draft202012Validator(schema, resolver=resolver).validate(body)
                checked += 1
                codes.add(status)
            except jsonschema.ValidationError as e:
                problems.append(f"{method} {path} -> {status}: {e.message}")
        elif not any(ctype.startswith(k) for k in content):
            problems.append(f"{method} {path} -> {status}: {ctype} not described")
    t.ok(not problems and checked > 100, f"every JSON answer of the suite ({checked}) matches openapi.json", problems[:10])
    t.ok({200, 201, 202, 400, 401, 403, 404, 409, 412, 413, 415, 422, 429} <= codes,
         "the validated answers cover every status the API gives", sorted(codes))
    t.ok(all("requestBody" in spec["paths"][p][m] for p in spec["paths"] for m in ("post", "patch") if m in spec["paths"][p]),
         "every POST and PATCH describes its body")
    # the schemas are strict: an answer with an extra key or a missing one would fail
    v = jsonschema.Draft202012Validator({"$ref": "#/components/schemas/Member"}, resolver=resolver)
    t.ok(not v.is_valid({"address": "a@b"}) and not v.is_valid({"address": "a@b", "name": None, "delivery": "enabled",
         "digest": False, "moderated": False, "since": "2026-01-01T00:00:00Z", "extra": 1}), "the schemas refuse what the API must not send")


spec = None
for kind in ("http", "cgi"):
    got = scenario(kind)
    spec = spec or got
    rate_limit(kind)
script_clients()
rmlist()
validate_all(spec)
t.done()
