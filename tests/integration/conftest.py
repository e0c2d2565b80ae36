"""The integration tier: one component against its real dependency (FerretDB, MariaDB), started
by scripts/infra.sh as `make run` starts them. A dependency that cannot start fails the tests."""

import os
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pymongo
import pytest
from sqlalchemy import Engine, create_engine, text

from services.shared.migrations import TEXT_COLLATION

ROOT = Path(__file__).resolve().parents[2]


def _start(name: str) -> None:
    done = subprocess.run(["scripts/infra.sh", "start", name], cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        output = f"{done.stdout[-1500:]}{done.stderr[-500:]}"
        pytest.fail(f"{name} did not start (run 'make setup' first): {output}")


@pytest.fixture(scope="session")
def mongo() -> Iterator[pymongo.MongoClient]:  # type: ignore[type-arg]
    _start("ferretdb")
    client: pymongo.MongoClient = pymongo.MongoClient(  # type: ignore[type-arg]
        "mongodb://127.0.0.1:27017", serverSelectionTimeoutMS=5000
    )
    yield client
    client.close()


@pytest.fixture
def mongo_db(mongo: pymongo.MongoClient) -> Iterator[pymongo.database.Database]:  # type: ignore[type-arg]
    """A database of its own for one test, dropped after it."""
    name = f"it_{uuid.uuid4().hex[:12]}"
    yield mongo[name]
    mongo.drop_database(name)


@pytest.fixture(scope="session")
def mariadb_root() -> Iterator[Engine]:
    _start("mariadb")
    engine = create_engine(
        f"mysql+pymysql://root@localhost/?unix_socket={ROOT}/.run/mariadb.sock&charset=utf8mb4"
    )
    yield engine
    engine.dispose()


@contextmanager
def own_database(mariadb_root: Engine) -> Iterator[Engine]:
    """A database of its own (as provisioning makes a service's), dropped afterwards."""
    name = f"it_{uuid.uuid4().hex[:12]}"
    with mariadb_root.begin() as conn:
        conn.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE {TEXT_COLLATION}"))
    engine = create_engine(
        f"mysql+pymysql://root@localhost/{name}?unix_socket={ROOT}/.run/mariadb.sock&charset=utf8mb4",
        isolation_level="READ COMMITTED",
        pool_size=10,
    )
    try:
        yield engine
    finally:
        engine.dispose()
        with mariadb_root.begin() as conn:
            conn.execute(text(f"DROP DATABASE `{name}`"))


@pytest.fixture
def mariadb(mariadb_root: Engine) -> Iterator[Engine]:
    """A database of its own for one test (as a service's user would see it), dropped after it."""
    with own_database(mariadb_root) as engine:
        yield engine


@pytest.fixture(scope="session")
def redis_host() -> str:
    """host:port of a real Redis: the shop's (started as `make run` starts it), or one of your
    own named by IT_REDIS_HOST (to run these beside a running shop)."""
    own = os.environ.get("IT_REDIS_HOST")
    if own:
        return own
    _start("redis")
    return "127.0.0.1:6379"
