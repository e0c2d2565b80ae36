"""Settings of the notifications service."""

from functools import lru_cache

from pydantic import Field

from services.shared.settings import DatabaseSettings


class Settings(DatabaseSettings):
    """Notifications serves its WebSocket on its own public port (8001), since WebSocket cannot
    pass through Dapr service invocation. Its inbox is its own `notifications` database."""

    db_name: str = "notifications"
    # A client must authorize within this after connecting, or it is disconnected.
    authorize_timeout_s: float = Field(default=5.0, gt=0, le=60)
    # Messages waiting for one connection; a client further behind is disconnected and catches
    # up from the inbox when it reconnects, so one slow client never holds back the others.
    send_queue_size: int = Field(default=256, ge=1, le=10000)
    # Connections one user keeps open, across replicas (leases.py, and on each replica: hub.py);
    # a newer one closes the oldest.
    max_connections_per_user: int = Field(default=5, ge=1, le=100)
    # The same per client address: an address can stand for many people (an office, a mobile
    # carrier), hence more, and bounded all the same.
    max_connections_per_address: int = Field(default=20, ge=1)
    # How long a connection's place counts once its replica stops renewing it (renewed every
    # quarter of it): how long the sockets of a replica that died go on counting at most.
    socket_lease_s: float = Field(default=12.0, ge=1, le=300)
    # The Redis the leases are kept in: the Dapr state store's (the same variable its component
    # reads; host:port). Straight, as the gateway's request budget: docs/decisions/0010-*.md.
    redis_host: str = "127.0.0.1:6379"
    # Proxies whose X-Forwarded-For names the client (HAProxy with REPLICAS>1), as the gateway's.
    trusted_proxies: frozenset[str] = frozenset()
    # How often each replica looks in the inbox for what other replicas stored for the users
    # connected to it (fanout.py): the longest a push can trail, when another replica stored it.
    follow_inbox_every_s: float = Field(default=0.2, gt=0, le=10)
    # How far back each look reaches: longer than a notification's write transaction can take
    # to commit (the database's lock wait timeout is what bounds that).
    follow_inbox_lookback_s: float = Field(default=5.0, gt=0, le=120)


@lru_cache
def get_settings() -> Settings:
    return Settings()  # type: ignore[call-arg]
