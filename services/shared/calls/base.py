"""What every internal answer shares: the tolerant base of the answers callers read, the page
every listing answers, and the batch lookup's request (products and customers both serve it)."""

from pydantic import BaseModel, ConfigDict, Field

from services.shared.contracts import Id, Strict

# Ids per batch lookup: a callee reads them in one query, so it bounds them.
MAX_LOOKUP = 200


class Answer(BaseModel):
    """An answer read by callers that declare only the fields they read, carrying the others
    as sent (the entity's whole snapshot stays the wire format)."""

    model_config = ConfigDict(extra="allow")


class Page(BaseModel):
    """One page of a listing; its `items` are declared by each listing."""

    total: int = Field(ge=0, description="All there are, not only this page.")
    limit: int = Field(ge=1)
    offset: int = Field(ge=0)


class Lookup(Strict):
    """`POST products/batch`, `POST customers/batch`: entities by id; unknown ids are left out
    of the answer."""

    ids: list[Id] = Field(min_length=1, max_length=MAX_LOOKUP)
