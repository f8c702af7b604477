#!/usr/bin/env bash
# The headless browser of the console's browser tests (tests/browser): Debian's chromium and
# chromium-driver, never a downloaded browser. Usage: browser.sh install|status   (idempotent)
source "$(dirname "$0")/common.sh"
DRIVER=/usr/bin/chromedriver

install() {
  [ -x "$DRIVER" ] && [ -x /usr/bin/chromium ] && return 0
  log "installing chromium and chromium-driver from Debian's packages"
  apt_install chromium chromium-driver
}

case "${1:-install}" in
  install) install ;;
  status)
    if [ -x "$DRIVER" ]; then echo "browser: $("$DRIVER" --version)"; else echo "browser: not installed"; exit 1; fi ;;
  *) echo "usage: $0 install|status" >&2; exit 2 ;;
esac
