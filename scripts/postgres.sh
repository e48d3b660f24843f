#!/usr/bin/env bash
# `make test-postgres`: a throw-away PostgreSQL server on localhost for the `postgres` tests.
#
# Installs Debian's postgresql if its binaries are missing (root only), initialises a cluster in
# a temp folder (owned by the `postgres` user when run as root: initdb refuses root), starts it
# on a free port, creates the database, runs `pytest -m postgres` against
# dagster_home/dagster.postgres.yaml, and always stops and removes the server.
# Extra arguments go to pytest. Needs the `postgres` extra: pip install -e '.[dev,postgres]'.
set -euo pipefail

cd "$(dirname "$0")/.."
source scripts/apt_install.sh
PY=${PY:-.venv/bin/python}

find_pg_bin() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    if [[ -x "$d/initdb" ]]; then echo "$d"; return 0; fi
  done
  return 1
}

if ! PG_BIN=$(find_pg_bin); then
  apt_install postgres.sh postgresql
  PG_BIN=$(find_pg_bin)
fi

"$PY" -c "import dagster_postgres" 2>/dev/null || {
  echo "postgres.sh: dagster-postgres missing; run: $PY -m pip install -e '.[postgres]'" >&2
  exit 2
}

PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
WORK=$(mktemp -d /tmp/distill-pg.XXXXXX)
DATA="$WORK/data"
DB=distill_test
DB_USER=distill

# initdb and postgres refuse to run as root: run them as the `postgres` user then.
as_pg() {
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

cleanup() {
  as_pg "$PG_BIN/pg_ctl" -D "$DATA" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

chmod 755 "$WORK"
if [[ $(id -u) -eq 0 ]]; then chown postgres "$WORK"; fi

as_pg "$PG_BIN/initdb" -D "$DATA" -U "$DB_USER" --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
as_pg "$PG_BIN/pg_ctl" -D "$DATA" -l "$WORK/server.log" -w -t 60 \
  -o "-h 127.0.0.1 -p $PORT -k $WORK -c fsync=off -c full_page_writes=off" start >/dev/null
"$PG_BIN/createdb" -h 127.0.0.1 -p "$PORT" -U "$DB_USER" "$DB"
echo "postgres.sh: PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PORT db=$DB" >&2

export DAGSTER_PG_HOST=127.0.0.1 DAGSTER_PG_PORT=$PORT DAGSTER_PG_USER=$DB_USER \
  DAGSTER_PG_PASSWORD="" DAGSTER_PG_DB=$DB
export DISTILL_PG_URL="postgresql+psycopg2://$DB_USER@127.0.0.1:$PORT/$DB"

"$PY" -m pytest -m postgres -q -p no:cacheprovider tests/test_postgres.py "$@"
