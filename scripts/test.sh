#!/usr/bin/env bash
# The project's test command: builds once (release), runs every test suite, then the
# shared conformance corpus against the built binary.
set -euo pipefail
cd "$(dirname "$0")/.."
# sshd's folder, the test user and a Docker engine for the ssh/sftp and docker tests.
bash scripts/setup-test-services.sh
cargo build --release --locked --bin dagu
cargo nextest run --release --locked --workspace --no-fail-fast
shared="${DAGU_SHARED:-../shared}"
if [ -f "$shared/conformance/run.py" ]; then
  python3 "$shared/conformance/run.py" --dagu target/release/dagu -j 2
else
  echo "conformance corpus not found at $shared (set DAGU_SHARED); skipped" >&2
fi
