#!/usr/bin/env python3
"""test_storage_failure.py - a full or read-only spool or queue makes
`kairan deliver` exit 75 (the MTA retries) with nothing half-done
visible: no archive file, no queue entry, no used number.  Uses small
tmpfs mounts, so it runs as root only."""
import os
import subprocess
from kt import Tap, Instance, make_msg

t = Tap()
if os.geteuid() != 0:
    t.skip_all("needs root to mount small tmpfs file systems")
inst = Instance()
inst.newlist("team")
inst.subscribe("team", "member@example.org")
mounts = []

def mount_tmpfs(path, size):
    os.makedirs(path, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", path], capture_output=True)
    if r.returncode == 0:
        mounts.append(path)
    return r.returncode == 0

def fill(path):
    fd = os.open(os.path.join(path, "filler"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for size in (65536, 4096, 512, 1):
            while True:
                try:
                    os.write(fd, b"\0" * size)
                except OSError:
                    break
    finally:
        os.close(fd)

def visible_state():
    q = inst.path("queue", "env")
    return (inst.archive_numbers("team"), sorted(os.listdir(q)) if os.path.isdir(q) else [],
            inst.check("lists", "--verbose").split()[3])

try:
    spool_archive = inst.path("spool", "team", "archive")
    if not mount_tmpfs(spool_archive, "512k"):
        t.skip_all("cannot mount tmpfs here")
    r = inst.deliver("team", make_msg("first"))
    t.eq(r.returncode, 0, "post accepted on the tmpfs spool")
    fill(spool_archive)
    before = visible_state()
    big = make_msg("fills the disk", body=("y" * 70 + "\n") * 3000)
    r = inst.deliver("team", big)
    t.eq(r.returncode, 75, "disk full: exit 75")
    t.ok(b"No space" in r.stderr or b"space" in r.stderr.lower(), "the error names the cause", r.stderr)
    t.eq(visible_state(), before, "disk full: no archive file, no queue entry, no number used")
    t.eq(sorted(x for x in os.listdir(spool_archive) if x.startswith(".tmp")), [], "no temporary file left behind")
    os.unlink(os.path.join(spool_archive, "filler"))
    r = inst.deliver("team", big)
    t.ok(r.returncode == 0 and inst.archive_numbers("team") == [1, 2], "after space is freed the retried post gets number 2")

    subprocess.run(["mount", "-o", "remount,ro", spool_archive], check=True)
    before = visible_state()
    r = inst.deliver("team", make_msg("read-only"))
    t.eq(r.returncode, 75, "read-only spool: exit 75")
    t.eq(visible_state(), before, "read-only spool: nothing visible changed")
    subprocess.run(["mount", "-o", "remount,rw", spool_archive], check=True)

    qmsg = inst.path("queue", "msg")
    if mount_tmpfs(qmsg, "64k"):
        fill(qmsg)
        before = visible_state()
        r = inst.deliver("team", make_msg("queue full"))
        t.eq(r.returncode, 75, "queue on a different, full file system: exit 75")
        t.eq(visible_state(), before, "queue full: the archive file is rolled back, number unused")
        os.unlink(os.path.join(qmsg, "filler"))
        r = inst.deliver("team", make_msg("queue ok again"))
        t.ok(r.returncode == 0 and inst.archive_numbers("team") == [1, 2, 3], "then the post gets number 3", r.stderr)
    else:
        t.skip("queue full", "cannot mount")
finally:
    for m in reversed(mounts):
        subprocess.run(["umount", "-l", m], capture_output=True)
t.done()
