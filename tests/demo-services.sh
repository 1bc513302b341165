#!/bin/sh
# demo-services.sh K H - run by DEMO.sh after the deliver demo: runs every
# tests/demo-*.sh part (relay, and whatever other modules add) in turn.
set -eu
dir=$(dirname "$0")
for part in "$dir"/demo-*.sh; do
    [ "$part" = "$dir/demo-services.sh" ] && continue
    [ -x "$part" ] && "$part" "$1" "$2"
done
exit 0
