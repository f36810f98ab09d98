# Shared by scripts/demo and scripts/test: make .venv, find or install Chromium.
# Sourced, not run. Works on a fresh Debian or Ubuntu machine, as root or with sudo.

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else return 1
  fi
}

apt_install() {
  command -v apt-get >/dev/null 2>&1 || return 1
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq || return 1
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

ensure_venv() {
  if [ ! -x .venv/bin/python ]; then
    local python=${PYTHON:-python3}
    if ! "$python" -m venv .venv 2>/dev/null; then
      # Debian and Ubuntu ship venv separately.
      rm -rf .venv
      echo "Installing python3-venv…" >&2
      apt_install python3-venv || { echo "Could not create a virtualenv: install python3-venv" >&2; exit 1; }
      "$python" -m venv .venv
    fi
  fi
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null
}

ensure_chromium() {
  # Debian's chromium is the tested browser; e2e/browser.py finds it by path.
  if [ -n "${POPPASS_CHROMIUM:-}" ] || [ -x /usr/lib/chromium/chromium ] || command -v chromium >/dev/null 2>&1; then
    return 0
  fi
  echo "No Chromium found: installing Debian's chromium package…" >&2
  if apt_install chromium && { [ -x /usr/lib/chromium/chromium ] || command -v chromium >/dev/null 2>&1; }; then
    return 0
  fi
  # Elsewhere (or where apt has no chromium), Playwright's own build is the fallback.
  echo "Falling back to Playwright's Chromium download…" >&2
  if [ "$(id -u)" = 0 ] || command -v sudo >/dev/null 2>&1; then
    as_root .venv/bin/playwright install-deps chromium || true
  fi
  .venv/bin/playwright install chromium
}

ensure_cjk_font() {
  # The layout checks measure Chinese pages: without a Chinese font Chromium draws empty boxes
  # of the wrong widths, and the checks would measure those. WenQuanYi Micro Hei is small.
  if command -v fc-list >/dev/null 2>&1 && [ -n "$(fc-list :lang=zh 2>/dev/null)" ]; then
    return 0
  fi
  echo "No Chinese font found: installing fonts-wqy-microhei…" >&2
  apt_install fonts-wqy-microhei fontconfig \
    || echo "Could not install a Chinese font: Chinese layout checks will measure fallback glyphs" >&2
}

ensure_biome() {
  # Biome formats and lints the browser's JavaScript; it comes from npm as one binary, pinned in
  # package-lock.json. Node.js is only a tool here: nothing PopPass serves is built with it.
  if [ -x node_modules/.bin/biome ] && [ node_modules/.bin/biome -nt package-lock.json ]; then
    return 0
  fi
  if ! command -v npm >/dev/null 2>&1; then
    echo "No npm found: installing Debian's nodejs and npm…" >&2
    apt_install nodejs npm || { echo "Could not install npm: the JavaScript linter needs it" >&2; exit 1; }
  fi
  npm ci --no-audit --no-fund --silent
  touch node_modules/.bin/biome
}
