"""test_layout.py - the source layout rules of HACKING.md, checked on the
tree: a job folder (src/deliver, src/ctl, src/relay, src/pop3, src/web, ...)
includes only src/lib and its own headers, never another job's (the command
table cli/cli.h aside); every GMime parse goes through src/lib/message.c;
every [global] key is read through the table of src/lib/globals.c; no
generated file is tracked by git."""
import glob
import os
import re
import subprocess

from kt import *

t = Tap()
src = os.path.join(SRCDIR, "src")
jobs = sorted(d for d in os.listdir(src) if os.path.isdir(os.path.join(src, d)) and d != "lib")
t.ok(len(jobs) >= 5, f"job folders found: {', '.join(jobs)}")

def sources(folder):
    return sorted(glob.glob(os.path.join(src, folder, "*.[ch]")))

inc = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
for job in jobs:
    bad = []
    for path in sources(job):
        for name in inc.findall(open(path, encoding="utf-8").read()):
            if name == "config.h" or name == "cli/cli.h":
                continue
            if "/" in name:
                folder = name.split("/", 1)[0]
                if folder != job:
                    bad.append(f"{os.path.relpath(path, SRCDIR)}: {name}")
            elif not (os.path.exists(os.path.join(src, job, name)) or os.path.exists(os.path.join(src, "lib", name))):
                bad.append(f"{os.path.relpath(path, SRCDIR)}: {name} (neither its own nor lib's)")
    t.ok(not bad, f"src/{job} includes only src/lib and its own headers", "\n".join(bad))

bad = []
for path in sources("lib"):
    for name in inc.findall(open(path, encoding="utf-8").read()):
        if "/" in name:
            bad.append(f"{os.path.relpath(path, SRCDIR)}: {name}")
t.ok(not bad, "src/lib includes no job's header", "\n".join(bad))

parsers = [os.path.relpath(p, SRCDIR) for p in glob.glob(os.path.join(src, "**", "*.c"), recursive=True) + glob.glob(os.path.join(SRCDIR, "cgi", "*.c"))
           if "g_mime_parser_new" in open(p, encoding="utf-8").read()]
t.ok(parsers and all(p.startswith("src/lib/") for p in parsers), "g_mime_parser_new appears only in src/lib", parsers)

direct = [os.path.relpath(p, SRCDIR) for p in glob.glob(os.path.join(src, "**", "*.c"), recursive=True)
          if not p.endswith(("lib/instance.c", "lib/globals.c")) and re.search(r'g_key_file_get_\w+\([^,]+,\s*"global"', open(p, encoding="utf-8").read())]
t.ok(not direct, "no [global] key is read around the table (instance_global*)", direct)

if os.path.isdir(os.path.join(SRCDIR, ".git")) or os.path.isfile(os.path.join(SRCDIR, ".git")):
    files = subprocess.run(["git", "-C", SRCDIR, "ls-files"], capture_output=True, text=True).stdout.split("\n")
    generated = [f for f in files if re.search(r'(^|/)(configure~?|Makefile\.in|aclocal\.m4|config\.h\.in~?|autom4te\.cache/.*|.*\.o|.*~)$', f)]
    t.ok(not generated, "no generated file is tracked", generated)
    binaries = []
    for f in files:
        p = os.path.join(SRCDIR, f)
        if f and os.path.isfile(p):
            with open(p, "rb") as fh:
                if fh.read(4) == b"\x7fELF":
                    binaries.append(f)
    t.ok(not binaries, "no compiled program is tracked (a build directory committed by mistake)", binaries[:10])
else:
    t.skip("no generated file is tracked", "not a git checkout")
    t.skip("no compiled program is tracked", "not a git checkout")
t.done()
