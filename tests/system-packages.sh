#!/usr/bin/env bash
# The system programs `make test` drives, as "command:Debian package" pairs: each missing one is
# installed when this runs as root on a Debian-like system, else named, and the run stops at once.
# (.ci/run and the Makefile's test targets both call this, so no test is skipped for a missing part.)
set -euo pipefail
PACKAGES=(
  redis-server:redis-server  # the private Redis every test session starts
  bwrap:bubblewrap           # the code_interpreter sandbox
  tinyproxy:tinyproxy        # tests/test_provider_proxy.py
  chromium:chromium          # the console's browser tests (tests/web/test_e2e*.py)
  node:nodejs                # the Node SDK tests (tests/node)
  npm:npm
  c++:build-essential        # building the demo model's llama.cpp server (tests/test_real_model.py)
  cmake:cmake
)
missing=()
for pair in "${PACKAGES[@]}"; do
  command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "Installing the system packages the tests need: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}"
else
  echo "make test needs these system packages: ${missing[*]}"
  echo "Install them first, e.g. on Debian or Ubuntu: sudo apt-get install ${missing[*]}"
  exit 1
fi
