"""SQLAlchemy engine for the services that own a MariaDB/MySQL database."""

from sqlalchemy import DateTime, Engine, create_engine, text
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import URL
from sqlalchemy.exc import OperationalError

# A lost or refused connection (a restarting server, lock wait timeouts too): a client should
# retry later, so the app answers 503 (create_app's unavailable_errors), not 500.
DATABASE_UNAVAILABLE: dict[type[Exception], str] = {OperationalError: "database"}

# Microsecond timestamps on MySQL/MariaDB (plain DATETIME drops the fraction).
Timestamp = DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


# Connections beyond pool_size, opened only when needed and closed after use: headroom for
# the few made outside the worker threads (the outbox backlog gauge). open_database bounds the
# worker threads, which make every other query, to pool_size.
BACKGROUND_CONNECTIONS = 4


def mysql_engine(
    *, user: str, password: str, host: str, port: int, database: str, pool_size: int = 10
) -> Engine:
    """A pooled engine; pre-ping drops connections the server closed (restarts, timeouts).

    Every connection stays pooled: an overflow connection is closed when returned, so a pool
    smaller than the concurrency opened (TCP, authentication, TLS context) one per request."""
    url = URL.create(
        "mysql+pymysql", username=user, password=password, host=host, port=port, database=database
    )
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=BACKGROUND_CONNECTIONS,
        pool_pre_ping=True,
        pool_recycle=1800,
        pool_timeout=5,
        # Row locks only on rows read FOR UPDATE; no gap locks for plain reads (fewer deadlocks).
        isolation_level="READ COMMITTED",
        connect_args={"connect_timeout": 3, "read_timeout": 10, "write_timeout": 10, "charset": "utf8mb4"},
    )


def ping(engine: Engine) -> None:
    """Raises unless the database answers a trivial query."""
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
