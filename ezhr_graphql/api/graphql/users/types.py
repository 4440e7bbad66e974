from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated, Self

import strawberry

from ezhr_graphql.api.graphql.errors import (
    InvalidCredentials,
    LimitExceeded,
    PermissionDenied,
    UserErrorType,
)
from ezhr_graphql.api.graphql.pagination import Connection
from ezhr_graphql.api.graphql.scalars import gid
from ezhr_graphql.models import Role as RoleModel
from ezhr_graphql.models import User as UserRow


@strawberry.enum(description="What a user may do.")
class Role(Enum):
    ADMIN = strawberry.enum_value("ADMIN", description="Manages agents, models and users.")
    MEMBER = strawberry.enum_value("MEMBER", description="Chats with the agents visible to them.")

    def to_model(self) -> RoleModel:
        return RoleModel[self.name]


@strawberry.type(description="A person who uses the assistant.")
class User:
    id: strawberry.ID = strawberry.field(description="Unique identifier.")
    email: str = strawberry.field(description="Login email, lower-cased.")
    display_name: str = strawberry.field(description="Name shown in the interface.")
    role: Role = strawberry.field(description="What the user may do.")
    created_at: datetime = strawberry.field(description="When the account was created.")
    active: bool = strawberry.field(
        description="False while an administrator has deactivated the account: its "
        "tokens are refused and it cannot sign in."
    )
    deactivated_at: datetime | None = strawberry.field(
        description="When the account was deactivated; null while it is active."
    )
    single_sign_on: bool = strawberry.field(
        description="Whether the account signs in through the identity provider "
        "(single sign-on), which then keeps its email, name and role up to date."
    )

    @classmethod
    def from_model(cls, row: UserRow) -> Self:
        return cls(
            id=gid(row.id),
            email=row.email,
            display_name=row.display_name,
            role=Role[row.role.name],
            created_at=row.created_at,
            active=row.active,
            deactivated_at=row.deactivated_at,
            single_sign_on=row.sso_subject is not None,
        )


@strawberry.type(description="A signed-in session: the bearer token and its user.")
class AuthPayload:
    token: str = strawberry.field(
        description="Send as `Authorization: Bearer <token>`, or as `token` in the "
        "websocket `connection_init` payload."
    )
    expires_at: datetime = strawberry.field(description="When the token stops being accepted.")
    user: User = strawberry.field(description="The signed-in user.")


@strawberry.type(description="How people sign in to this server.")
class SignInOptions:
    local_accounts: bool = strawberry.field(
        description="Whether accounts of this server sign in with an email and a "
        "password (`login` and `register` are open)."
    )
    single_sign_on_url: str | None = strawberry.field(
        description="Where to send the browser to sign in through the identity provider "
        "(it comes back to the single-page app with `#code=...` for `redeemSignInCode`, "
        "or `#error=...`); null when single sign-on is off."
    )


@strawberry.input(description="A new account.")
class RegisterInput:
    email: str = strawberry.field(description="Login email.")
    password: str = strawberry.field(
        description="Between the configured minimum (12 by default) and maximum (256) "
        "length, without control characters, not containing the email's name, and not "
        "one of the most common passwords; a refusal is InvalidInput on `password`."
    )
    display_name: str | None = strawberry.field(
        default=None, description="Name shown in the interface; defaults to the email's name."
    )


RegisterResult = Annotated[
    AuthPayload | UserErrorType,
    strawberry.union("RegisterResult", description="Result of `register`."),
]
LoginResult = Annotated[
    AuthPayload | InvalidCredentials | LimitExceeded | PermissionDenied,
    strawberry.union("LoginResult", description="Result of `login`."),
]
SignInCodeResult = Annotated[
    AuthPayload | InvalidCredentials | PermissionDenied,
    strawberry.union("SignInCodeResult", description="Result of `redeemSignInCode`."),
]
UserResult = Annotated[
    User | UserErrorType,
    strawberry.union("UserResult", description="A user, or why it could not be changed."),
]
UserConnectionResult = Annotated[
    Connection[User] | UserErrorType,
    strawberry.union("UserConnectionResult", description="A page of users."),
]
