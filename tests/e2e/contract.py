#!/usr/bin/env python3
"""contract.py - run ../shared/acceptance/contract_smoke.py against the built
binary and report each of its checks as a TAP line."""
import os
import subprocess
import sys
from kt import Tap, KAIRAN, SHARED

t = Tap()
script = os.path.join(SHARED, "acceptance", "contract_smoke.py")
if not os.path.exists(script):
    t.skip_all("../shared/acceptance/contract_smoke.py is absent")
r = subprocess.run([sys.executable, script, KAIRAN], capture_output=True, timeout=600)
lines = r.stdout.decode(errors="replace").splitlines()
for line in lines:
    if line.startswith("PASS "):
        t.ok(True, "contract: " + line[5:])
    elif line.startswith("FAIL "):
        t.ok(False, "contract: " + line[5:])
t.ok(r.returncode == 0 and any(l.endswith("0 failed") for l in lines), "contract_smoke exits 0", r.stderr)
t.done()
