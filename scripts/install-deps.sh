#!/usr/bin/env bash
# Installs the system packages the build and the tests need on a fresh Debian machine.
# Safe to run more than once. Needs root (or sudo).
set -euo pipefail
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
need=()
command -v cc >/dev/null || need+=(build-essential)
command -v python3 >/dev/null || need+=(python3)
command -v pkill >/dev/null || need+=(procps)
# Real servers the ssh/sftp and docker tests start (tests/services).
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v dockerd >/dev/null || need+=(docker.io)
[ -x /bin/busybox ] || need+=(busybox-static)
if [ ${#need[@]} -gt 0 ]; then
  # Keep apt from starting system services (sshd, dockerd) on their default ports.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod 755 /usr/sbin/policy-rc.d
  fi
  $SUDO apt-get update -qq
  $SUDO DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
if ! command -v cargo >/dev/null; then
  echo "cargo not found: install Rust with rustup (https://rustup.rs), then run this again" >&2
  exit 1
fi
rustup show active-toolchain >/dev/null  # installs the pinned toolchain from rust-toolchain.toml
# The built-in plugins are built as WASM components, example Extism plugins as WASM modules.
rustup target add wasm32-wasip2 wasm32-unknown-unknown
command -v cargo-nextest >/dev/null || cargo install --locked cargo-nextest
