"""A member's export of their data, and erasure (their own, or by an administrator)."""

from __future__ import annotations

import strawberry

from ezhr_graphql.api.graphql import resolve
from ezhr_graphql.api.graphql.context import Info
from ezhr_graphql.api.graphql.privacy.types import (
    DataExport,
    DataExportResult,
    ErasedUser,
    ErasureResult,
)
from ezhr_graphql.api.graphql.scalars import parse_id


@strawberry.type
class PrivacyMutations:
    @strawberry.mutation(
        description="Everything the assistant holds about the caller, as one JSON file: "
        "profile, folders, conversations with every message, feedback. Only ever the "
        "caller's own data; the audit log records the export (not its content)."
    )
    async def export_my_data(self, info: Info) -> DataExportResult:
        return await resolve.change(
            info.context, lambda s, a: s.data_export.export(a), DataExport.of
        )

    @strawberry.mutation(
        description="Erase the caller: their conversations, messages, feedback, folders "
        "and reply streams are removed for real, their personal details too, and every "
        "token they hold stops working at once. `confirm` must be their email address "
        "(InvalidInput `confirm` otherwise). Company documents stay; the audit log keeps "
        "counts only."
    )
    async def erase_my_data(self, info: Info, confirm: str) -> ErasureResult:
        return await resolve.change(
            info.context, lambda s, a: s.erasure.erase_self(a, confirm), ErasedUser.of
        )

    @strawberry.mutation(
        description="Erase another user as `eraseMyData` erases the caller (admins only; "
        "PermissionDenied for themselves, who use eraseMyData). Deleted and deactivated "
        "users can be erased; NotFound for one already erased."
    )
    async def erase_user(self, info: Info, user_id: strawberry.ID) -> ErasureResult:
        return await resolve.change(
            info.context,
            lambda s, a: s.erasure.erase_user(a, parse_id(user_id, "userId")),
            ErasedUser.of,
            admin=True,
        )
