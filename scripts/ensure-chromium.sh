#!/usr/bin/env bash
# Debian's chromium for the dashboard's browser test (Playwright drives it; no browser download),
# and a small CJK font so screenshots show Chinese. No-op when already installed.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 && fc-list 2>/dev/null | grep -qiE "cjk|wenquanyi"; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "ensure-chromium: run as root, or: sudo apt-get install -y chromium fonts-wqy-microhei" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium fonts-wqy-microhei >/dev/null
command -v chromium >/dev/null
