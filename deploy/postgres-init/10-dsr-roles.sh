#!/bin/bash
# Run by the postgres image on its first start (an empty data volume), as
# POSTGRES_USER, which owns the dsr database and runs dsr migrate.
#
# Makes the roles dsr api and dsr worker connect with:
#   dsr_app        NOLOGIN: holds the privileges; dsr migrate --app-role dsr_app
#                  (re)grants them after every migration
#   dsr_app_login  LOGIN, password $DSR_DB_PASSWORD, a member of dsr_app: owns
#                  nothing, so it cannot alter or drop tables or the audit
#                  log's append-only trigger
#
# On a volume made before this script existed, run it once by hand:
#   docker compose exec -e DSR_DB_PASSWORD=... postgres bash /docker-entrypoint-initdb.d/10-dsr-roles.sh
set -euo pipefail
: "${DSR_DB_PASSWORD:?set DSR_DB_PASSWORD, the password dsr api and dsr worker connect with}"

psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname "${POSTGRES_DB:-postgres}" \
	--set=pw="$DSR_DB_PASSWORD" <<'SQL'
SELECT 'CREATE ROLE dsr_app NOLOGIN'
	WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'dsr_app') \gexec
SELECT 'CREATE ROLE dsr_app_login LOGIN'
	WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'dsr_app_login') \gexec
SELECT format('ALTER ROLE dsr_app_login LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE INHERIT PASSWORD %L', :'pw') \gexec
GRANT dsr_app TO dsr_app_login;
SQL
