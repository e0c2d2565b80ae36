"""SQLAlchemy engine for the services that own a MariaDB/MySQL database."""

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL


def mysql_engine(
    *, user: str, password: str, host: str, port: int, database: str, pool_size: int = 10
) -> Engine:
    """A pooled engine; pre-ping drops connections the server closed (restarts, timeouts)."""
    url = URL.create(
        "mysql+pymysql", username=user, password=password, host=host, port=port, database=database
    )
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_recycle=1800,
        pool_timeout=5,
        connect_args={"connect_timeout": 3, "read_timeout": 10, "write_timeout": 10, "charset": "utf8mb4"},
    )


def ping(engine: Engine) -> None:
    """Raises unless the database answers a trivial query."""
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
