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
from ezhr_graphql.models import EmploymentType as EmploymentTypeModel
from ezhr_graphql.models import Role as RoleModel
from ezhr_graphql.models import User as UserRow
from ezhr_graphql.services.attributes import Attributes


@strawberry.enum(description="What a user may do.")
class Role(Enum):
    ADMIN = strawberry.enum_value("ADMIN", description="Manages agents, models and users.")
    MEMBER = strawberry.enum_value("MEMBER", description="Chats with the agents visible to them.")

    def to_model(self) -> RoleModel:
        return RoleModel[self.name]


@strawberry.enum(description="How a person is employed.")
class EmploymentType(Enum):
    FULL_TIME = strawberry.enum_value("FULL_TIME", description="A full-time employee.")
    PART_TIME = strawberry.enum_value("PART_TIME", description="A part-time employee.")
    CONTRACTOR = strawberry.enum_value("CONTRACTOR", description="A contractor.")
    INTERN = strawberry.enum_value("INTERN", description="An intern.")

    def to_model(self) -> EmploymentTypeModel:
        return EmploymentTypeModel[self.name]


@strawberry.type(
    description="What HR policies depend on. Knowledge whose audience constrains an "
    "attribute is read only by users whose value of it is listed; null is not known."
)
class UserAttributes:
    country: str | None = strawberry.field(
        description="Country of employment: an ISO 3166-1 alpha-2 code, such as VN or US."
    )
    office: str | None = strawberry.field(description="Office or location.")
    department: str | None = strawberry.field(description="Department.")
    employment_type: EmploymentType | None = strawberry.field(description="Employment type.")
    preferred_language: str | None = strawberry.field(
        description="Preferred language: a BCP 47 tag such as en, vi or en-US."
    )
    groups: list[str] = strawberry.field(description="Groups the user is in.")

    @classmethod
    def of(cls, attributes: Attributes) -> Self:
        kind = attributes.employment_type
        return cls(
            country=attributes.country,
            office=attributes.office,
            department=attributes.department,
            employment_type=None if kind is None else EmploymentType[kind.name],
            preferred_language=attributes.preferred_language,
            groups=list(attributes.groups),
        )


@strawberry.input(
    description="A user's attributes, all replaced: an omitted or null field (or an "
    "empty text) clears that attribute, and an omitted list clears the groups."
)
class UserAttributesInput:
    country: str | None = strawberry.field(
        default=None, description="An ISO 3166-1 alpha-2 country code (VN, US...)."
    )
    office: str | None = strawberry.field(default=None, description="Office or location.")
    department: str | None = strawberry.field(default=None, description="Department.")
    employment_type: EmploymentType | None = strawberry.field(
        default=None, description="Employment type."
    )
    preferred_language: str | None = strawberry.field(
        default=None, description="A BCP 47 language tag: en, vi, en-US..."
    )
    groups: list[str] | None = strawberry.field(
        default=None, description="Groups (at most 50, each up to 100 characters)."
    )

    def to_attributes(self) -> Attributes:
        kind = self.employment_type
        return Attributes(
            country=self.country,
            office=self.office,
            department=self.department,
            employment_type=None if kind is None else kind.to_model(),
            preferred_language=self.preferred_language,
            groups=tuple(self.groups or ()),
        )


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
    attributes: UserAttributes = strawberry.field(
        description="What HR policies depend on; they decide which documents the user's "
        "answers come from. Only administrators change them."
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
            attributes=UserAttributes.of(Attributes.of(row)),
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
