"""What HR policies depend on: a user's attributes, and the audiences of knowledge
that are matched with them (see models/audience.py for the rule).

Both are checked here, once, whoever sets them (an administrator through the API, or
an identity provider's claims at sign-in): a country is an assigned ISO 3166-1
alpha-2 code (upper case), a language a BCP 47 tag, an office, a department or a group
a short text. Text is compared as stored: trimmed, in Unicode NFC, case kept.
"""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from ezhr_graphql.errors import InvalidInputError
from ezhr_graphql.models import AudienceAttribute, EmploymentType, User
from ezhr_graphql.models.types import ATTRIBUTE_LENGTH
from ezhr_graphql.repositories.user import UserRepository
from ezhr_graphql.services import codes, validation

MAX_GROUPS = 50
# Values one attribute of an audience may list.
MAX_AUDIENCE_VALUES = 100


def country_code(field: str, value: str) -> str:
    """Raises:
    InvalidInputError: not an assigned ISO 3166-1 alpha-2 code.
    """
    found = codes.country(value)
    if found is None:
        raise InvalidInputError(
            field, f"{field}: {value[:20]!r} is not an ISO 3166-1 alpha-2 country code"
        )
    return found


def language(field: str, value: str) -> str:
    """Raises:
    InvalidInputError: not a language tag such as "en", "vi" or "en-US".
    """
    found = codes.language_tag(value)
    if found is None:
        raise InvalidInputError(
            field, f"{field}: {value[:40]!r} is not a language tag such as en, vi or en-US"
        )
    return found


def name(field: str, value: str) -> str:
    """An office, a department or a group: trimmed, NFC, printable, not empty.

    Raises:
        InvalidInputError: empty, too long, or holding control characters.
    """
    cleaned = validation.text(field, unicodedata.normalize("NFC", value), ATTRIBUTE_LENGTH)
    if not cleaned.isprintable():
        raise InvalidInputError(field, f"{field} must not contain control characters")
    return cleaned


def names(field: str, values: Sequence[str], limit: int) -> list[str]:
    """Each of ``values`` as :func:`name` makes it, once, in order.

    Raises:
        InvalidInputError: more than ``limit`` of them, or one is not a name.
    """
    if len(values) > limit:
        raise InvalidInputError(field, f"{field} holds at most {limit} values")
    return list(dict.fromkeys(name(field, v) for v in values))


def _optional_name(field: str, value: str | None) -> str | None:
    return None if value is None or not value.strip() else name(field, value)


@dataclass(frozen=True, slots=True)
class Attributes:
    """A user's attributes; ``None`` (and no groups) is "not known"."""

    country: str | None = None
    office: str | None = None
    department: str | None = None
    employment_type: EmploymentType | None = None
    preferred_language: str | None = None
    groups: Sequence[str] = ()

    @classmethod
    def of(cls, user: User) -> Attributes:
        return cls(
            country=user.country,
            office=user.office,
            department=user.department,
            employment_type=user.employment_type,
            preferred_language=user.preferred_language,
            groups=tuple(user.groups or ()),
        )

    def cleaned(self) -> Attributes:
        """These attributes checked and in their stored form (an empty text is "not
        known").

        Raises:
            InvalidInputError: naming the first field at fault.
        """
        country = (self.country or "").strip()
        tag = (self.preferred_language or "").strip()
        return Attributes(
            country=country_code("country", country) if country else None,
            office=_optional_name("office", self.office),
            department=_optional_name("department", self.department),
            employment_type=self.employment_type,
            preferred_language=language("preferredLanguage", tag) if tag else None,
            groups=tuple(names("groups", self.groups, MAX_GROUPS)),
        )

    def apply(self, user: User) -> None:
        user.country = self.country
        user.office = self.office
        user.department = self.department
        user.employment_type = self.employment_type
        user.preferred_language = self.preferred_language
        user.groups = list(self.groups)


@dataclass(frozen=True, slots=True)
class Audience:
    """Who a collection or document is for: per attribute, the values it admits. An
    attribute with no values does not constrain; an audience with none is everyone."""

    countries: Sequence[str] = ()
    offices: Sequence[str] = ()
    departments: Sequence[str] = ()
    employment_types: Sequence[EmploymentType] = ()
    groups: Sequence[str] = ()

    @classmethod
    def of(cls, rows: Mapping[AudienceAttribute, Sequence[str]]) -> Audience:
        """The audience stored as ``rows`` (values by attribute)."""
        return cls(
            countries=tuple(sorted(rows.get(AudienceAttribute.COUNTRY, ()))),
            offices=tuple(sorted(rows.get(AudienceAttribute.OFFICE, ()))),
            departments=tuple(sorted(rows.get(AudienceAttribute.DEPARTMENT, ()))),
            employment_types=tuple(
                sorted(EmploymentType(v) for v in rows.get(AudienceAttribute.EMPLOYMENT_TYPE, ()))
            ),
            groups=tuple(sorted(rows.get(AudienceAttribute.GROUP, ()))),
        )

    @property
    def everyone(self) -> bool:
        return not any(self.rows().values())

    def rows(self) -> dict[AudienceAttribute, list[str]]:
        """Values by attribute, as stored (unchecked: see :meth:`cleaned`)."""
        return {
            AudienceAttribute.COUNTRY: list(self.countries),
            AudienceAttribute.OFFICE: list(self.offices),
            AudienceAttribute.DEPARTMENT: list(self.departments),
            AudienceAttribute.EMPLOYMENT_TYPE: [t.value for t in self.employment_types],
            AudienceAttribute.GROUP: list(self.groups),
        }

    def cleaned(self) -> dict[AudienceAttribute, list[str]]:
        """Values by attribute, checked, each once.

        Raises:
            InvalidInputError: too many values for an attribute, an unknown country
                code, or a value that is not a name.
        """
        limit = MAX_AUDIENCE_VALUES
        if len(self.countries) > limit:
            raise InvalidInputError("countries", f"countries holds at most {limit} values")
        if len(self.employment_types) > limit:
            raise InvalidInputError("employmentTypes", f"employmentTypes holds at most {limit}")
        return {
            AudienceAttribute.COUNTRY: list(
                dict.fromkeys(country_code("countries", c) for c in self.countries)
            ),
            AudienceAttribute.OFFICE: names("offices", self.offices, limit),
            AudienceAttribute.DEPARTMENT: names("departments", self.departments, limit),
            AudienceAttribute.EMPLOYMENT_TYPE: list(
                dict.fromkeys(EmploymentType(t).value for t in self.employment_types)
            ),
            AudienceAttribute.GROUP: names("groups", self.groups, limit),
        }


def reader_values(user: User | None) -> dict[AudienceAttribute, frozenset[str]]:
    """What ``user`` holds of each attribute an audience may constrain (nothing for
    an unknown user): what audiences are matched with."""
    if user is None:
        return {}
    held = {
        AudienceAttribute.COUNTRY: user.country,
        AudienceAttribute.OFFICE: user.office,
        AudienceAttribute.DEPARTMENT: user.department,
        AudienceAttribute.EMPLOYMENT_TYPE: user.employment_type,
    }
    values = {attribute: frozenset({str(v)}) for attribute, v in held.items() if v is not None}
    if user.groups:
        values[AudienceAttribute.GROUP] = frozenset(user.groups)
    return values


async def reader_of(
    session: AsyncSession, user_id: uuid.UUID
) -> dict[AudienceAttribute, frozenset[str]]:
    """:func:`reader_values` of the user ``user_id`` as stored now."""
    return reader_values(await UserRepository.from_session(session).get(user_id))
