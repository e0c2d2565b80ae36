"""JWTs: auth issues them, the gateway verifies them; the key comes from the secret store."""

import time
from dataclasses import dataclass

import jwt

from services.shared.identity import Actor

ISSUER = "dapr-shop-auth"
AUDIENCE = "dapr-shop"
ALGORITHM = "HS256"


class InvalidToken(Exception):
    """The token is missing, malformed, expired, or not signed by us."""


@dataclass(frozen=True)
class TokenIssuer:
    key: str
    ttl_s: int = 3600

    def issue(self, actor: Actor, *, email: str) -> str:
        now = int(time.time())
        claims = {
            "sub": actor.id,
            "role": actor.role,
            "email": email,
            "iat": now,
            "exp": now + self.ttl_s,
            "iss": ISSUER,
            "aud": AUDIENCE,
        }
        return jwt.encode(claims, self.key, algorithm=ALGORITHM)


def verify(token: str, key: str) -> Actor:
    """The actor a valid token names; raises InvalidToken otherwise."""
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "role"]},
        )
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from exc
    if claims["role"] not in ("customer", "admin") or not isinstance(claims["sub"], str):
        raise InvalidToken("unexpected claims")
    return Actor(id=claims["sub"], role=claims["role"])
