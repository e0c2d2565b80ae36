"""auth's answers: to the gateway's `POST register` and `POST login` (the public bodies,
services/gateway/models.py, with the client's address in CLIENT_ADDRESS_HEADER: auth counts
attempts per address, services/auth/guard.py)."""

from typing import Literal

from pydantic import BaseModel, Field

from services.shared.contracts import Id, IsoTime

# The public client's address, as the gateway sees it (services/gateway/clients.py).
CLIENT_ADDRESS_HEADER = "x-shop-client-address"


class Registered(BaseModel):
    """The account just made."""

    id: Id
    email: str
    name: str
    role: Literal["customer", "admin"]
    created_at: IsoTime


class Token(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = Field(description="Always `bearer`.")
    expires_in: int = Field(ge=1, description="Seconds until it expires.")
