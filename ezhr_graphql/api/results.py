"""Result types shared by several domains."""

from __future__ import annotations

from typing import Annotated

import strawberry

from ezhr_graphql.api.errors import UserErrorType


@strawberry.type(description="An object that was deleted.")
class Deleted:
    id: strawberry.ID = strawberry.field(description="ID of the deleted object.")


DeleteResult = Annotated[
    Deleted | UserErrorType,
    strawberry.union("DeleteResult", description="The deleted object's ID, or why not."),
]
