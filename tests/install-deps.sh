#!/bin/sh
# install-deps.sh - install (as root, with apt-get) every Debian package
# kairan needs to build, to run its demo and to run all its tests.
# Quiet and idempotent: packages already installed are skipped by apt.
set -e
export DEBIAN_FRONTEND=noninteractive
need=""
for p in build-essential autoconf automake pkg-config libgmime-3.0-dev libglib2.0-dev \
         libsqlite3-dev libmicrohttpd-dev libssl-dev libc-ares-dev libjson-glib-dev sqlite3 \
         python3-jsonschema lighttpd python3-feedparser \
         python3 curl openssl postfix swaks dnsmasq-base mlmmj dovecot-pop3d dovecot-imapd isync offlineimap3 neomutt fetchmail chromium chromium-driver fonts-ipafont-gothic python3-dkim python3-nacl clamav-daemon \
         opendkim-tools valgrind clang libclang-rt-14-dev procps psmisc unbound ldnsutils \
         ${KAIRAN_EXTRA_PACKAGES:-}; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need="$need $p"
done
command -v npm >/dev/null || need="$need nodejs npm"
if [ -n "$need" ]; then
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends $need >/dev/null
fi
