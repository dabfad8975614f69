#!/bin/sh
# The Node.js that make's npm steps need, checked before they run: the site's build tool, Vite 8, requires Node.js
# ^20.19.0 || >=22.12.0 (its "engines" in static_site/package-lock.json). Without this, an older Node gets npm's
# EBADENGINE warnings and then a build error that names neither. Missing or too old: one line on stderr saying what
# was found, what is needed and how to get it, and exit 1. Standard sh only; the Makefile runs it before each
# `npm ci` (a script, not a make target, so that it runs whenever npm is about to, and a test can run it directly).
need="Node.js 20.19+ or 22.12+ (the site's build tool, Vite 8, requires it)"
how="install it from https://nodejs.org/ (or with nvm: nvm install 22), put it first on PATH and run make again"

node_path=$(command -v node 2>/dev/null)
if [ -z "$node_path" ]; then
    echo "Node.js is missing (no node on PATH): make needs $need; $how" >&2
    exit 1
fi
found=$(node --version 2>/dev/null)
version=${found#v}
case "$version" in
    [0-9]*.[0-9]*.[0-9]*) ;;
    *)
        echo "node ($node_path) says its version is '$found', not vX.Y.Z: make needs $need; $how" >&2
        exit 1
        ;;
esac
major=${version%%.*}
minor=${version#*.}
minor=${minor%%.*}
case "$major$minor" in *[!0-9]*) major=0 minor=0 ;; esac  # a pre-release suffix in the wrong place: refused

if [ "$major" -eq 20 ] && [ "$minor" -ge 19 ]; then
    ok=yes
elif [ "$major" -eq 22 ] && [ "$minor" -ge 12 ]; then
    ok=yes
elif [ "$major" -ge 23 ]; then
    ok=yes
else
    ok=no
fi
if [ "$ok" = no ]; then
    if [ "$major" -eq 21 ]; then what="is not supported"; else what="is too old"; fi
    echo "Node.js $found ($node_path) $what: make needs $need; $how" >&2
    exit 1
fi

if ! command -v npm >/dev/null 2>&1; then
    echo "npm is missing (Node.js $found is at $node_path): install npm too (Debian: sudo apt-get install npm;" \
        "nodejs.org's Node.js includes it) and run make again" >&2
    exit 1
fi
