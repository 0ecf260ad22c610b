#!/usr/bin/env bash
# Installs Matrix Synapse (PyPI) in a venv under ~/.cache and writes a loopback-only SQLite
# configuration for the chat comparison in docs/BENCHMARKS.md. Nothing lands in the repository.
#   scripts/peer/synapse-setup.sh            # install + configure
#   taskset -c 0,1 ~/.cache/synapse/venv/bin/python -m synapse.app.homeserver -c ~/.cache/synapse/data/homeserver.yaml
set -euo pipefail
root="${SYNAPSE_ROOT:-$HOME/.cache/synapse}"
mkdir -p "$root/data"
[ -x "$root/venv/bin/python" ] || python3 -m venv "$root/venv"
"$root/venv/bin/pip" install -q matrix-synapse aiohttp
cfg="$root/data/homeserver.yaml"
if [ ! -f "$cfg" ]; then
  "$root/venv/bin/python" -m synapse.app.homeserver --server-name bench.local --config-path "$cfg" \
    --data-directory "$root/data" --generate-config --report-stats=no
fi
# Overrides go in a second config file (Synapse merges -c files in order; top-level keys are replaced).
cat > "$root/data/bench.yaml" <<YAML
listeners:
  - port: 8008
    bind_addresses: ['127.0.0.1']
    type: http
    tls: false
    x_forwarded: false
    resources: [{names: [client], compress: false}]
enable_registration: true
enable_registration_without_verification: true
# Registration speed only (login hashing is not part of the measured message path).
bcrypt_rounds: 4
trusted_key_servers: []
suppress_key_server_warning: true
presence: {enabled: false}
url_preview_enabled: false
# Rate limits off: the benchmark measures throughput, as ours has no per-user message limit.
rc_message: {per_second: 1000000, burst_count: 1000000}
rc_registration: {per_second: 1000000, burst_count: 1000000}
rc_room_creation: {per_second: 1000000, burst_count: 1000000}
rc_login:
  address: {per_second: 1000000, burst_count: 1000000}
  account: {per_second: 1000000, burst_count: 1000000}
  failed_attempts: {per_second: 1000000, burst_count: 1000000}
rc_joins:
  local: {per_second: 1000000, burst_count: 1000000}
  remote: {per_second: 1000000, burst_count: 1000000}
rc_joins_per_room: {per_second: 1000000, burst_count: 1000000}
rc_invites:
  per_room: {per_second: 1000000, burst_count: 1000000}
  per_user: {per_second: 1000000, burst_count: 1000000}
  per_issuer: {per_second: 1000000, burst_count: 1000000}
YAML
echo "configured: $cfg + $root/data/bench.yaml"
echo "run: taskset -c 0,1 $root/venv/bin/python -m synapse.app.homeserver -c $cfg -c $root/data/bench.yaml"
