"""Relay cursor connections shared by every list field."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, Generic, Self, TypeVar

import strawberry

from ezhr_graphql.repositories.base import Page

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 20


@strawberry.type(description="Where a page sits within its list.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="More items follow this page.")
    has_previous_page: bool = strawberry.field(description="Items precede this page.")
    start_cursor: str | None = strawberry.field(description="Cursor of the first item.")
    end_cursor: str | None = strawberry.field(
        description="Cursor of the last item; pass it as `after` for the next page."
    )


@strawberry.type(description="An item of a page with its cursor.")
class Edge(Generic[T]):
    node: T = strawberry.field(description="The item.")
    position: strawberry.Private[Callable[[], str]]

    @strawberry.field(description="Opaque position of this item; pass it as `after`.")
    def cursor(self) -> str:
        return self.position()


@strawberry.type(description="One page of a list, in a stable order.")
class Connection(Generic[T]):
    edges: list[Edge[T]] = strawberry.field(description="The items of this page.")
    page_info: PageInfo = strawberry.field(description="Paging state.")

    @classmethod
    def of(cls, page: Page[Any], convert: Callable[[Any], T]) -> Self:
        items = page.items
        return cls(
            edges=[Edge(node=convert(item), position=partial(page.cursor, item)) for item in items],
            page_info=PageInfo(
                has_next_page=page.has_next_page,
                has_previous_page=page.has_previous_page,
                start_cursor=page.cursor(items[0]) if items else None,
                end_cursor=page.cursor(items[-1]) if items else None,
            ),
        )
