"""Typed contracts every app shares: the base of every body a service accepts."""

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict


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
