"""Typed contracts every app shares: the base of every body a service accepts."""

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    """A request or event body that rejects fields it does not declare: a typo or a field a
    caller must not set is an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")
