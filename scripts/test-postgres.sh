#!/usr/bin/env bash
# Start this machine's PostgreSQL 15 cluster (Debian's `main`) for the tests and make sure the
# test role and database exist; print the SQLAlchemy URL on stdout. Idempotent.
#   EVONORM_TEST_POSTGRES_URL=$(scripts/test-postgres.sh)
set -euo pipefail
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
as_postgres() { as_root runuser -u postgres -- "$@"; }

if ! command -v pg_ctlcluster >/dev/null; then
  echo "PostgreSQL is not installed: apt-get install postgresql-15" >&2
  exit 1
fi
if ! pg_lsclusters -h 2>/dev/null | grep -qE '^15 +main +[0-9]+ +online'; then
  as_root pg_ctlcluster 15 main start >&2
fi
for _ in $(seq 50); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.2; done
pg_isready -q -h 127.0.0.1 -p 5432 || { echo "PostgreSQL did not come up on 127.0.0.1:5432" >&2; exit 1; }

psql_admin() { as_postgres psql -X -q -v ON_ERROR_STOP=1 -d postgres -tA "$@"; }
if [ -z "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname = 'evonorm'")" ]; then
  psql_admin -c "CREATE ROLE evonorm LOGIN PASSWORD 'evonorm'" >&2
fi
if [ -z "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = 'evonorm_test'")" ]; then
  psql_admin -c "CREATE DATABASE evonorm_test OWNER evonorm" >&2
fi
echo "postgresql+psycopg2://evonorm:evonorm@127.0.0.1:5432/evonorm_test"
