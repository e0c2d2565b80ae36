"""SQLAlchemy engine for the services that own a MariaDB/MySQL database."""

import time
from typing import Any

from pymysql.constants.SERVER_STATUS import SERVER_STATUS_IN_TRANS
from sqlalchemy import Connection, DateTime, Engine, create_engine, event, text
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import URL
from sqlalchemy.exc import DisconnectionError, OperationalError
from sqlalchemy.pool import ConnectionPoolEntry, PoolResetState

# A lost or refused connection (a restarting server, lock wait timeouts too): a client should
# retry later, so the app answers 503 (create_app's unavailable_errors), not 500.
DATABASE_UNAVAILABLE: dict[type[Exception], str] = {OperationalError: "database"}

# Microsecond timestamps on MySQL/MariaDB (plain DATETIME drops the fraction).
Timestamp = DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


# Connections beyond pool_size, opened only when needed and closed after use: headroom for
# the few made outside the worker threads (the outbox backlog gauge). open_database bounds the
# worker threads, which make every other query, to pool_size.
BACKGROUND_CONNECTIONS = 4

# A pooled connection idle for longer than this is pinged before it is lent out: the server
# may have closed it (a restart, wait_timeout). One in steady use is not: SQLAlchemy's
# pool_pre_ping pings on every checkout, a sixth of the round trips an order made.
PING_AFTER_IDLE_S = 1.0


def mysql_engine(
    *, user: str, password: str, host: str, port: int, database: str, pool_size: int = 10
) -> Engine:
    """A pooled engine whose connections are checked after idling and reset only when needed.

    Every connection stays pooled: an overflow connection is closed when returned, so a pool
    smaller than the concurrency opened (TCP, authentication, TLS context) one per request."""
    url = URL.create(
        "mysql+pymysql", username=user, password=password, host=host, port=port, database=database
    )
    return _pooled(url, pool_size=pool_size, max_overflow=BACKGROUND_CONNECTIONS)


def autocommit_engine(engine: Engine, *, pool_size: int = 1) -> Engine:
    """An engine on the same database (a pool of its own) whose connections commit each
    statement as it runs: for a sequence of single-statement steps that need no transaction
    around them (the outbox relay's turn: take the lock, read, mark sent, release). Each step then
    costs its statement alone, no COMMIT after a write, no ROLLBACK when the connection is
    returned (skip_autocommit_rollback)."""
    return _pooled(
        engine.url,
        pool_size=pool_size,
        max_overflow=BACKGROUND_CONNECTIONS,
        isolation_level="AUTOCOMMIT",
        skip_autocommit_rollback=True,
    )


def _pooled(url: URL, *, pool_size: int, max_overflow: int, **options: Any) -> Engine:
    engine = create_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_recycle=1800,
        pool_timeout=5,
        # The connection returned last is lent first: at a trickle one stays busy (no ping) and
        # the others idle, where first-in-first-out cycled them all past PING_AFTER_IDLE_S.
        pool_use_lifo=True,
        # Reset by _end_open_transaction instead: the default rolls back every connection
        # returned, also one whose transaction just committed (a round trip for nothing).
        pool_reset_on_return=None,
        connect_args={"connect_timeout": 3, "read_timeout": 10, "write_timeout": 10, "charset": "utf8mb4"},
        # Row locks only on rows read FOR UPDATE; no gap locks for plain reads (fewer deadlocks).
        **({"isolation_level": "READ COMMITTED"} | options),
    )
    event.listen(engine, "checkin", _note_return)
    event.listen(engine, "checkout", _ping_if_idle)
    event.listen(engine, "reset", _end_open_transaction)
    return engine


def _note_return(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
    record.info["returned_at"] = time.monotonic()


def _ping_if_idle(dbapi_connection: Any, record: ConnectionPoolEntry, proxy: Any) -> None:
    """Pings a connection that idled in the pool; a dead one is replaced before anyone uses it
    (DisconnectionError makes the pool discard it and lend another)."""
    returned_at = record.info.get("returned_at")  # None: opened for this checkout
    if returned_at is None or time.monotonic() - returned_at <= PING_AFTER_IDLE_S:
        return
    try:
        dbapi_connection.ping(reconnect=False)
    except Exception as exc:
        raise DisconnectionError("pooled connection is gone") from exc


def _end_open_transaction(dbapi_connection: Any, record: ConnectionPoolEntry, state: PoolResetState) -> None:
    """Rolls back a returned connection only if the server says a transaction is still open
    (MySQL reports it in every answer); committed and rolled back ones go back as they are."""
    if state.terminate_only or state.transaction_was_reset:
        return
    status = getattr(dbapi_connection, "server_status", None)
    if status is None or status & SERVER_STATUS_IN_TRANS:
        dbapi_connection.rollback()


def ping(engine: Engine) -> None:
    """Raises unless the database answers a trivial query."""
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))


# MariaDB/MySQL named locks (GET_LOCK): server-wide, so scoped to the connection's database,
# and every service can use the same names.
_SCOPED = "CONCAT(DATABASE(), '.', :name)"


def take_named_lock(conn: Connection, name: str, *, wait_s: float) -> bool:
    """Takes a named lock for as long as `conn` holds it (until release_named_lock or the
    connection closes); False when another connection held it for all of `wait_s`.

    The server releases the lock if the holder's connection dies (a replica killed mid-batch),
    so no lease needs expiring. SQLite (the unit tests) has one process: always granted."""
    if conn.dialect.name not in ("mysql", "mariadb"):
        return True
    got = conn.execute(text(f"SELECT GET_LOCK({_SCOPED}, :wait)"), {"name": name, "wait": wait_s}).scalar()
    return bool(got == 1)


def release_named_lock(conn: Connection, name: str) -> None:
    if conn.dialect.name in ("mysql", "mariadb"):
        conn.execute(text(f"SELECT RELEASE_LOCK({_SCOPED})"), {"name": name})
