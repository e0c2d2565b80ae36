"""Typed contracts every app shares: the base of every body a service accepts, and the types
of the values events and internal calls carry."""

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError


class Strict(BaseModel):
    """A request or event body that rejects fields it does not declare: a typo or a field a
    caller must not set is an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


def _encodable(value: str) -> str:
    # JSON may carry lone surrogates ("\ud800"): valid in a Python str, but no UTF-8 for them
    # exists, so the database (or a password hash) would fail on them later, as a 500.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text (no lone surrogate code points)") from None
    return value


# Text a service stores or hashes: any Unicode, emoji included, and nothing UTF-8 cannot carry.
Text = Annotated[str, AfterValidator(_encodable)]


# Entity ids: UUIDs as the services make them, and never longer than the columns that hold them.
Id = Annotated[str, Field(min_length=1, max_length=36)]
# services.shared.timeutil.iso: ISO 8601 in UTC with a Z, microseconds when there are any.
IsoTime = Annotated[str, Field(pattern=r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$")]
Version = Annotated[int, Field(ge=1)]
Cents = Annotated[int, Field(ge=0)]


def describe(error: ValidationError, *, at_most: int = 3) -> str:
    """`items.0.quantity: Input should be a valid integer; id: Field required`: the fields at
    fault, for a log line."""
    problems = [
        f"{'.'.join(str(part) for part in problem['loc']) or 'data'}: {problem['msg']}"
        for problem in error.errors(include_url=False)
    ]
    more = len(problems) - at_most
    return "; ".join(problems[:at_most]) + (f" (and {more} more)" if more > 0 else "")
