"""What administrators give collections and documents, checked."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from ezhr_graphql.errors import InvalidInputError
from ezhr_graphql.models import AudienceAttribute
from ezhr_graphql.models.types import NAME_LENGTH
from ezhr_graphql.services import validation
from ezhr_graphql.services.attributes import Audience

MAX_TAGS = 20
TAG_LENGTH = 50


@dataclass(frozen=True, slots=True)
class CollectionFields:
    name: str | None = None
    description: str | None = None
    embedding_model_id: uuid.UUID | None = None
    # Replaces the collection's audience (an empty one: everyone); None leaves it.
    audience: Audience | None = None

    def cleaned(self) -> dict[str, Any]:
        """The columns to set (the audience apart: see :meth:`audience_rows`)."""
        return validation.clean(
            self,
            {
                "name": validation.NAME,
                "description": validation.DESCRIPTION,
                "embedding_model_id": validation.unchanged,
            },
        )


def _tags(tags: list[str]) -> list[str]:
    if len(tags) > MAX_TAGS:
        raise InvalidInputError("tags", f"a document has at most {MAX_TAGS} tags")
    cleaned = [validation.text("tags", t, TAG_LENGTH) for t in tags]
    return list(dict.fromkeys(cleaned))


@dataclass(frozen=True, slots=True)
class DocumentFields:
    """Metadata an administrator may give a document; ``None`` leaves it as it is
    (on upload: as the file says)."""

    title: str | None = None
    effective_date: date | None = None
    outdated: bool | None = None
    tags: list[str] | None = None
    # Replaces the document's audience (an empty one: everyone); None leaves it (on
    # upload: everyone).
    audience: Audience | None = None

    def cleaned(self) -> dict[str, Any]:
        """The columns to set (the audience apart: see :meth:`audience_rows`)."""
        return validation.clean(
            self,
            {
                "title": validation.texts("title", NAME_LENGTH, required=False),
                "effective_date": validation.unchanged,
                "outdated": validation.unchanged,
                "tags": _tags,
            },
        )


def clean_filename(filename: str | None) -> str:
    """The file's base name without control characters, bounded; never empty."""
    base = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    printable = "".join(c for c in base if c.isprintable()).strip()
    return printable[:NAME_LENGTH] or "document"


def audience_rows(
    fields: CollectionFields | DocumentFields,
) -> dict[AudienceAttribute, list[str]] | None:
    """The audience ``fields`` set, checked; ``None`` when they leave it.

    Raises:
        InvalidInputError: see :meth:`Audience.cleaned`.
    """
    return None if fields.audience is None else fields.audience.cleaned()
