#!/usr/bin/env bash
# Prepares this machine for the tests that use real servers (ssh/sftp and docker steps),
# once the packages from scripts/install-deps.sh are in: creates the machine-wide pieces the
# per-test servers share (sshd's privilege-separation folder, the password user `wftest`)
# and starts one Docker engine when none answers. The tests start their own sshd and
# import their own busybox image (tests/services). Safe to run more than once. Needs root
# (or sudo). scripts/test.sh runs it.
set -euo pipefail
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

# sshd refuses to start without its privilege-separation folder.
$SUDO mkdir -p /run/sshd
# The user the test sshd lets in, by key or by this password.
id wftest >/dev/null 2>&1 || $SUDO useradd -m -s /bin/bash wftest
echo 'wftest:wftest-pass' | $SUDO chpasswd

# One Docker engine for the whole test run (no bridge: containers reach the host's
# loopback with `network: host`).
if ! docker version >/dev/null 2>&1; then
  log="${TMPDIR:-/tmp}/dagu-test-dockerd.log"
  $SUDO sh -c "nohup dockerd --iptables=false --ip-masq=false --bridge=none --log-level warn >'$log' 2>&1 &"
  for _ in $(seq 1 150); do
    docker version >/dev/null 2>&1 && break
    sleep 0.2
  done
  docker version >/dev/null 2>&1 || { echo "dockerd did not start; see $log" >&2; tail -20 "$log" >&2; exit 1; }
fi
echo "test services ready: sshd $(/usr/sbin/sshd -V 2>&1 | head -1), docker $(docker version --format '{{.Server.Version}}')"
