"""Result types shared by several domains."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry

from ezhr_graphql.api.graphql.errors import UserErrorType
from ezhr_graphql.api.graphql.scalars import gid


@strawberry.type(description="An object that was deleted.")
class Deleted:
    id: strawberry.ID = strawberry.field(description="ID of the deleted object.")


def deleted(row: Any) -> Deleted:
    """The result of a delete, from the row the service soft-deleted."""
    return Deleted(id=gid(row.id))


DeleteResult = Annotated[
    Deleted | UserErrorType,
    strawberry.union("DeleteResult", description="The deleted object's ID, or why not."),
]
