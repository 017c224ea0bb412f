"""The base of every config section, and the id type the sections share."""

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

POSTGRES_SCHEMES = ("postgresql://", "postgres://")

Ident = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]


class Model(BaseModel):
    """Base for config sections: frozen, and unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)
