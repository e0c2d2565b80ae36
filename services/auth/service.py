"""Registration and login. Passwords are hashed with argon2id and never logged or returned."""

import asyncio
import hashlib
import hmac
import logging
import uuid
from contextlib import nullcontext

from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from services.auth.hashing import HashingSlots
from services.auth.models import Login, Registration, credentials
from services.shared.calls import CustomerCreated, NewCustomer, Registered, Token
from services.shared.dapr import DaprSidecar, ServiceUnavailable, answer_of
from services.shared.errors import ApiError
from services.shared.identity import Actor, Role
from services.shared.timeutil import utcnow
from services.shared.tokens import TokenIssuer

log = logging.getLogger(__name__)

# OWASP's minimum for argon2id (19 MiB, 2 passes): tens of ms per hash, bounded memory under load.
hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
# Verified against when the email is unknown, so both cases cost the same time.
_DUMMY_HASH = hasher.hash("no-such-user-password")


def customer_id_for(email: str, *, key: bytes) -> str:
    """The customer id an email registers under: the same on every attempt, so a registration
    cut off after the profile was created completes when it is tried again, and replicas
    creating the first admin together make one. Keyed (HMAC), so an id does not tell which
    email it belongs to."""
    digest = hmac.new(key, email.encode(), hashlib.sha256).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def email_taken(engine: Engine, email: str) -> bool:
    with engine.connect() as conn:
        return conn.execute(select(credentials.c.id).where(credentials.c.email == email)).first() is not None


def store_credentials(
    engine: Engine, *, customer_id: str, email: str, password_hash: str, role: Role
) -> None:
    try:
        with engine.begin() as conn:
            conn.execute(
                credentials.insert().values(
                    id=customer_id, email=email, password_hash=password_hash, role=role, created_at=utcnow()
                )
            )
    except IntegrityError as exc:
        raise ApiError(409, "email_taken", "that email is already registered") from exc


def check_credentials(engine: Engine, *, email: str, password: str) -> Actor:
    """The actor these credentials belong to; 401 `invalid_credentials` otherwise."""
    with engine.connect() as conn:
        row = conn.execute(select(credentials).where(credentials.c.email == email.lower())).one_or_none()
    try:
        hasher.verify(row.password_hash if row else _DUMMY_HASH, password)
    except VerificationError:
        row = None
    if row is None:
        raise ApiError(401, "invalid_credentials", "wrong email or password")
    return Actor(id=row.id, role=row.role)


def login(engine: Engine, tokens: TokenIssuer, form: Login) -> Token:
    """A bearer token for these credentials; 401 `invalid_credentials` otherwise."""
    email = form.email.lower()
    actor = check_credentials(engine, email=email, password=form.password)
    return Token(access_token=tokens.issue(actor, email=email), token_type="bearer", expires_in=tokens.ttl_s)


async def register(
    engine: Engine,
    dapr: DaprSidecar,
    form: Registration,
    *,
    id_key: bytes,
    role: Role = "customer",
    hashing: HashingSlots | None = None,
) -> Registered:
    """Creates the customer through the customers service, then stores the credentials. A
    retry after either step failed completes it: the customer id comes from the email, and
    customers answers a repeated creation with the profile it made. The password is hashed
    first, in one of the `hashing` slots when given (a client's registration)."""
    email = form.email.lower()
    if await run_in_threadpool(email_taken, engine, email):
        raise ApiError(409, "email_taken", "that email is already registered")
    with hashing.slot() if hashing else nullcontext():
        password_hash = await run_in_threadpool(hasher.hash, form.password)
    customer_id = customer_id_for(email, key=id_key)
    new = NewCustomer(id=customer_id, email=email, name=form.name)
    response = await dapr.invoke("customers", "POST", "customers", json=new.model_dump(mode="json"))
    if response.status_code == 409:
        raise ApiError(409, "email_taken", "that email is already registered")
    if response.status_code != 201:
        raise ServiceUnavailable("customers", f"unexpected status {response.status_code}")
    customer = answer_of(response, CustomerCreated, target="customers")
    await run_in_threadpool(
        store_credentials,
        engine,
        customer_id=customer_id,
        email=email,
        password_hash=password_hash,
        role=role,
    )
    return Registered(
        id=customer_id, email=email, name=customer.name, role=role, created_at=customer.created_at
    )


async def ensure_admin(
    engine: Engine, dapr: DaprSidecar, *, email: str, password: str, id_key: bytes
) -> None:
    """Creates the first admin from the secret store's credentials, retrying until customers is up."""
    delay = 0.5
    while True:
        try:
            if await run_in_threadpool(email_taken, engine, email.lower()):
                return
            # Wait for customers to be ready before registering: failed registration calls would
            # count against the circuit breaker every registration shares (resiliency.yaml).
            ready = await dapr.invoke("customers", "GET", "readyz")
            if ready.status_code != 200:
                raise ServiceUnavailable("customers", "not ready yet")
            await register(
                engine,
                dapr,
                Registration(email=email, password=password, name="Administrator"),
                id_key=id_key,
                role="admin",
            )
            log.info("admin account created", extra={"email": email})
            return
        except ApiError as exc:
            if exc.code == "email_taken":
                return
            raise
        except Exception as exc:  # customers or the database not up yet
            log.info(
                "admin account not created yet, retrying", extra={"error": str(exc), "retry_in_s": delay}
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10)
