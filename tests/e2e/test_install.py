#!/usr/bin/env python3
"""test_install.py - `make install DESTDIR=...` installs the binary, the
man page and the mail templates, and the installed binary runs."""
import os
import subprocess
import tempfile
from kt import Tap

t = Tap()
build = os.environ.get("KAIRAN_BUILDDIR")
if not build or not os.path.exists(os.path.join(build, "Makefile")):
    t.skip_all("no build directory")
dest = tempfile.mkdtemp(prefix="kairan-destdir-")
r = subprocess.run(["make", "-s", "-C", build, "install", f"DESTDIR={dest}", "prefix=/usr/local"],
                   capture_output=True, timeout=300)
t.ok(r.returncode == 0, "make install DESTDIR=... succeeds", r.stderr)
found = {os.path.relpath(os.path.join(d, f), dest) for d, _, fs in os.walk(dest) for f in fs}
t.ok("usr/local/bin/kairan" in found, "bin/kairan installed")
t.ok("usr/local/share/man/man8/kairan.8" in found, "kairan(8) installed")
t.ok("usr/local/libexec/kairan/kairan-daemon" in found, "the daemons' program in libexec/kairan")
t.ok("usr/local/libexec/kairan/kairan.cgi" in found, "kairan.cgi in libexec/kairan")
t.ok("usr/local/share/kairan/templates/mail/en/refused.txt" in found, "English mail templates installed")
t.ok("usr/local/share/kairan/templates/mail/ja/welcome.txt" in found, "Japanese mail templates installed")
r = subprocess.run([os.path.join(dest, "usr/local/bin/kairan"), "--version"], capture_output=True)
t.ok(r.returncode == 0 and b"kairan" in r.stdout, "the installed binary runs")
subprocess.run(["rm", "-rf", dest])
t.done()
