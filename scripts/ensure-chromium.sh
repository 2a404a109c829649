#!/usr/bin/env bash
# Make a headless browser available for the report's HTML test, idempotently:
# what the `reports` tox environment runs first. A chromium (or
# chromium-browser) on PATH is used as is; otherwise, as root on Debian or
# Ubuntu, Debian's `chromium` package is installed with apt-get. Anything
# else prints how to install one and exits 0: the test itself then skips, or
# fails when CI=true.
set -uo pipefail
for name in chromium chromium-browser; do
  if command -v "$name" >/dev/null 2>&1; then exit 0; fi
done
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "ensure-chromium: installing Debian's chromium package (apt-get) ..." >&2
  export DEBIAN_FRONTEND=noninteractive
  if apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium >/dev/null; then
    exit 0
  fi
  echo "ensure-chromium: apt-get could not install chromium" >&2
  exit 0
fi
echo "ensure-chromium: no chromium on PATH; install it (apt-get install chromium) for the HTML test" >&2
