#!/usr/bin/env bash
# Bring a Docker engine up and build the local images, idempotently: what CI
# runs before the integration suite. Safe to run again; each step is skipped
# when already done (an engine answers, an image carries its context hash).
#   - an engine that answers `docker info` is used as is;
#   - otherwise, as root, docker.io and mmdebstrap are installed with apt-get
#     and `dockerd --iptables=false` is started in the background;
#   - images: gateproof/base:bookworm (mmdebstrap, about a minute the first
#     time), then gateproof/runtime, gateproof/orchestrator, gateproof/redis.
set -euo pipefail
cd "$(dirname "$0")/.."
gateproof=${GATEPROOF:-.venv/bin/gateproof}
"$gateproof" docker up
"$gateproof" images
