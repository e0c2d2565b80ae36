"""Creates each service's own database and user, with the password from the secrets file.

Idempotent. Used by scripts/infra.sh (MariaDB over its socket) and docker-compose (MySQL over TCP).
"""

import argparse
import json
from pathlib import Path

import pymysql

SERVICES = ("auth", "customers", "products", "orders", "notifications")
# The same as services.shared.migrations.TEXT_COLLATION (a unit test holds them together): this
# script runs alone, in images and jobs without the services' package.
TEXT_COLLATION = "utf8mb4_unicode_520_ci"


def statements(secrets: dict[str, str], user_host: str) -> list[tuple[str, tuple[str, ...]]]:
    """The SQL that gives every service its database and a user limited to it."""
    # The user and host are parameters too: docker-compose's host is `%`, which the driver's
    # %-formatting would misread inside the statement.
    sql: list[tuple[str, tuple[str, ...]]] = []
    for svc in SERVICES:
        password = secrets[f"{svc}-db-password"]
        sql += [
            (f"CREATE DATABASE IF NOT EXISTS `{svc}` CHARACTER SET utf8mb4 COLLATE {TEXT_COLLATION}", ()),
            ("CREATE USER IF NOT EXISTS %s@%s IDENTIFIED BY %s", (svc, user_host, password)),
            ("ALTER USER %s@%s IDENTIFIED BY %s", (svc, user_host, password)),
            (f"GRANT ALL PRIVILEGES ON `{svc}`.* TO %s@%s", (svc, user_host)),
        ]
    return sql


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--secrets", default=".run/secrets.json")
    parser.add_argument("--socket", help="MariaDB unix socket (root by socket authentication)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3306)
    parser.add_argument("--root-password", default=None)
    parser.add_argument("--user-host", default="127.0.0.1", help="host part of the service users")
    args = parser.parse_args()
    secrets = json.loads(Path(args.secrets).read_text())
    if args.socket:
        conn = pymysql.connect(unix_socket=args.socket, user="root")
    else:
        conn = pymysql.connect(host=args.host, port=args.port, user="root", password=args.root_password or "")
    with conn, conn.cursor() as cur:
        for sql, params in statements(secrets, args.user_host):
            cur.execute(sql, params or None)
    print(f"[provision] databases and users ready: {', '.join(SERVICES)}")


if __name__ == "__main__":
    main()
