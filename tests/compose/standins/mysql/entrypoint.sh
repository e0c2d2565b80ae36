#!/bin/sh
# First start: an empty data directory is initialised and root gets MYSQL_ROOT_PASSWORD, for
# local and remote logins (as the upstream image's entrypoint does), before the server starts.
set -eu
datadir=/var/lib/mysql
if [ ! -d "$datadir/mysql" ]; then
  : "${MYSQL_ROOT_PASSWORD:?MYSQL_ROOT_PASSWORD is required}"
  mariadb-install-db --datadir="$datadir" --auth-root-authentication-method=normal --skip-test-db >/dev/null
  mariadbd --datadir="$datadir" --skip-networking --socket=/run/mysqld/init.sock &
  pid=$!
  until mariadb-admin --socket=/run/mysqld/init.sock ping >/dev/null 2>&1; do sleep 0.2; done
  mariadb --socket=/run/mysqld/init.sock -uroot <<SQL
ALTER USER 'root'@'localhost' IDENTIFIED BY '$MYSQL_ROOT_PASSWORD';
CREATE USER 'root'@'%' IDENTIFIED BY '$MYSQL_ROOT_PASSWORD';
GRANT ALL PRIVILEGES ON *.* TO 'root'@'%' WITH GRANT OPTION;
FLUSH PRIVILEGES;
SQL
  kill "$pid" && wait "$pid" || true
fi
exec "$@" --datadir="$datadir" --bind-address=0.0.0.0 --port=3306 --skip-name-resolve --max-connections=500
