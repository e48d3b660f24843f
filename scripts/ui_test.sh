#!/usr/bin/env bash
# `make test-ui`: the Dagster UI in headless Chromium, against a real webserver and daemon.
#
# 1. Debian's chromium (apt, root only, if missing) and the Python `playwright` client (pip; it
#    drives /usr/bin/chromium, so no browser is downloaded).
# 2. A temp DAGSTER_HOME with the project's dagster.yaml; `distill demo` on the test profile
#    materialises a small version (the whole graph) into it.
# 3. dagster-webserver (free port, 127.0.0.1) and dagster-daemon (runs queued runs) on it.
# 4. pytest -m ui tests/ui/; screenshots go to $DISTILL_UI_SHOTS (default ui-screenshots/).
# The servers are always stopped and the temp home removed (KEEP_HOME=1 keeps it).
set -euo pipefail

cd "$(dirname "$0")/.."
source scripts/apt_install.sh
REPO=$(pwd)
PY=${PY:-$REPO/.venv/bin/python}
BIN=$(dirname "$PY")
ROWS=${DISTILL_UI_ROWS:-120}
INSTANCE_YAML=${DISTILL_UI_INSTANCE_YAML:-$REPO/dagster_home/dagster.yaml}
PLAYWRIGHT_VERSION=${PLAYWRIGHT_VERSION:-1.65.2}
export DISTILL_CHROMIUM=${DISTILL_CHROMIUM:-/usr/bin/chromium}
export DISTILL_UI_SHOTS=${DISTILL_UI_SHOTS:-$REPO/ui-screenshots}

if [[ ! -x $DISTILL_CHROMIUM ]]; then
  apt_install ui_test.sh chromium
fi
"$PY" -c "import playwright" 2>/dev/null || "$PY" -m pip install -q "playwright==$PLAYWRIGHT_VERSION"

WORK=$(mktemp -d /tmp/distill-ui.XXXXXX)
export DAGSTER_HOME=$WORK/home DISTILL_HOME=$WORK/home DISTILL_PROFILE=test
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
# The inbox sensor and automation run in the daemon too; an empty inbox keeps them idle.
export DISTILL_INBOX=$WORK/inbox
mkdir -p "$DAGSTER_HOME" "$DISTILL_INBOX"
cp "$INSTANCE_YAML" "$DAGSTER_HOME/dagster.yaml"

PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [[ ${KEEP_HOME:-0} == 1 ]]; then echo "ui_test.sh: kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

started=$(date +%s)
echo "ui_test.sh: materialising a $ROWS-row version on the test profile in $DAGSTER_HOME" >&2
"$PY" -m distill_assets.cli demo --profile test --rows "$ROWS" >"$WORK/demo.log" 2>&1 || {
  tail -40 "$WORK/demo.log" >&2
  echo "ui_test.sh: distill demo failed" >&2
  exit 1
}
tail -1 "$WORK/demo.log" >&2
VERSION=$(sed -n 's/^demo: version=\([^ ]*\) .*/\1/p' "$WORK/demo.log" | tail -1)
[[ -n $VERSION ]] || { echo "ui_test.sh: no version in the demo output" >&2; exit 1; }
export DISTILL_UI_VERSION=$VERSION

PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export DISTILL_UI_URL=http://127.0.0.1:$PORT
"$BIN/dagster-webserver" -w workspace.yaml -h 127.0.0.1 -p "$PORT" >"$WORK/webserver.log" 2>&1 &
PIDS+=($!)
"$BIN/dagster-daemon" run -w workspace.yaml >"$WORK/daemon.log" 2>&1 &
PIDS+=($!)

for _ in $(seq 1 180); do
  if "$PY" -c "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('$DISTILL_UI_URL/server_info', timeout=2).status == 200 else 1)" 2>/dev/null; then
    break
  fi
  if ! kill -0 "${PIDS[0]}" 2>/dev/null; then
    tail -40 "$WORK/webserver.log" >&2
    echo "ui_test.sh: dagster-webserver exited" >&2
    exit 1
  fi
  sleep 1
done
echo "ui_test.sh: webserver at $DISTILL_UI_URL, version $VERSION" >&2

status=0
"$PY" -m pytest -m ui -q -p no:cacheprovider tests/ui/ "$@" || status=$?
if [[ $status -ne 0 ]]; then
  echo "--- webserver.log (tail)" >&2; tail -30 "$WORK/webserver.log" >&2
  echo "--- daemon.log (tail)" >&2; tail -30 "$WORK/daemon.log" >&2
fi
echo "ui_test.sh: finished in $(($(date +%s) - started))s; screenshots in $DISTILL_UI_SHOTS" >&2
exit $status
