#!/usr/bin/env bash
# Installs everything serval needs to build and test on Debian 12: Debian packages, plus the npm
# packages used only as test oracles (tokenizer, chat templates, OpenAI client). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  nlohmann-json3-dev libcli11-dev libyaml-cpp-dev libspdlog-dev libfmt-dev
  libpcre2-dev libutf8proc-dev libboost-dev libcurl4-openssl-dev libxxhash-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  clang libclang-rt-14-dev
  python3 python3-numpy python3-jinja2
  chromium libpng-dev curl zlib1g-dev
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# node/npm run the test oracles: take Debian's only when the machine has none of its own (a node from
# elsewhere ships its own npm, and Debian's npm package would conflict with it).
if ! command -v node >/dev/null 2>&1; then missing+=(nodejs); fi
if ! command -v npm >/dev/null 2>&1; then missing+=(npm); fi
if [ "${#missing[@]}" -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Test oracles (npm): only for tests, never linked into serval.
if [ -f tests/oracle/package.json ]; then
  if [ ! -d tests/oracle/node_modules ] || [ tests/oracle/package-lock.json -nt tests/oracle/node_modules ]; then
    (cd tests/oracle && npm ci --no-audit --no-fund --loglevel=error)
    touch tests/oracle/node_modules
  fi
fi
