"""From the claims an OpenID Connect provider asserts about a person to what we keep:
who they are (issuer and subject), their email and name, and the employee attributes
(country, office, department, employment type, preferred language, groups).

Pure functions of the claims and the configured claim names, so each rule is tested
on its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ezhr_graphql.errors import InvalidInputError
from ezhr_graphql.models import Role
from ezhr_graphql.models.types import NAME_LENGTH
from ezhr_graphql.models.user import SUBJECT_LENGTH
from ezhr_graphql.oidc_settings import ATTRIBUTE_NAMES, ClaimNames
from ezhr_graphql.services import validation
from ezhr_graphql.services.sso.errors import SignInError, SignInFailure

# One value per attribute name: text (or None) for each, a list of texts for groups.
DirectoryAttributes = dict[str, str | list[str] | None]

MAX_VALUE_LENGTH = NAME_LENGTH
MAX_GROUPS = 1000


@dataclass(frozen=True, slots=True)
class Identity:
    """A person as the provider asserts them at one sign-in."""

    issuer: str
    subject: str
    email: str
    email_verified: bool
    display_name: str
    attributes: DirectoryAttributes

    @property
    def groups(self) -> list[str]:
        groups = self.attributes.get("groups")
        return groups if isinstance(groups, list) else []


def claim(claims: Mapping[str, Any], name: str) -> Any:
    """The claim called ``name`` or, if there is none, the nested claim a dotted
    ``name`` leads to (``address.country``); ``None`` if absent. Names that hold dots
    themselves (``https://example.com/department``) are found whole first."""
    if name in claims:
        return claims[name]
    value: Any = claims
    for part in name.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _scalar(value: Any) -> str | None:
    """A claim value as trimmed text: strings and whole numbers; empty, over-long or
    NUL-holding text and anything else counts as absent."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        value = str(value)
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or len(text) > MAX_VALUE_LENGTH or "\x00" in text:
        return None
    return text


def text_value(value: Any) -> str | None:
    """One text from a claim; of a list (a multi-valued directory attribute), its
    first usable element."""
    if isinstance(value, list):
        return next((text for text in map(_scalar, value) if text is not None), None)
    return _scalar(value)


def groups_value(value: Any) -> list[str]:
    """The groups of a claim, in order, each once: a list, or one group alone."""
    items = value if isinstance(value, list) else [value]
    unique = dict.fromkeys(text for text in map(_scalar, items) if text is not None)
    return list(unique)[:MAX_GROUPS]


def directory_attributes(claims: Mapping[str, Any], names: ClaimNames) -> DirectoryAttributes:
    """The attributes of :data:`ATTRIBUTE_NAMES` a claim is configured for, read from
    it: ``None`` (``[]`` for groups) when the claim is absent or unusable. An attribute
    no claim is configured for is left out: the provider says nothing of it."""
    attributes: DirectoryAttributes = {}
    for attribute in ATTRIBUTE_NAMES:
        name = names.attribute(attribute)
        if name is None:
            continue
        value = claim(claims, name)
        attributes[attribute] = groups_value(value) if attribute == "groups" else text_value(value)
    return attributes


def groups_left_out(claims: Mapping[str, Any], names: ClaimNames) -> bool:
    """Whether the provider left the groups out and pointed elsewhere for them (Entra
    ID does so for people in too many groups: ``_claim_names``)."""
    pointers = claims.get("_claim_names")
    return names.groups is not None and isinstance(pointers, Mapping) and names.groups in pointers


def role_for(groups: Sequence[str], admin_groups: Sequence[str]) -> Role | None:
    """The role the groups give: administrator in any of ``admin_groups``, member
    otherwise; ``None`` (leave the role as it is) when no admin groups are set."""
    if not admin_groups:
        return None
    return Role.ADMIN if set(groups) & set(admin_groups) else Role.MEMBER


def _subject(claims: Mapping[str, Any]) -> str:
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject or len(subject) > SUBJECT_LENGTH:
        raise SignInError(SignInFailure.CLAIMS_INVALID, "The provider sent no usable subject")
    return subject


def _email(claims: Mapping[str, Any], name: str) -> str:
    value = claim(claims, name)
    try:
        if not isinstance(value, str):
            raise InvalidInputError("email", "no email")
        return validation.email("email", value)
    except InvalidInputError as exc:
        raise SignInError(
            SignInFailure.CLAIMS_INVALID,
            f"The provider sent no valid email in the claim {name!r}: ask for the email "
            "scope, or set EZHR_OIDC__CLAIMS__EMAIL",
        ) from exc


def identity(issuer: str, claims: Mapping[str, Any], names: ClaimNames) -> Identity:
    """The person the verified ``claims`` describe.

    Raises:
        SignInError: ``CLAIMS_INVALID``: no usable subject or email.
    """
    subject = _subject(claims)
    email = _email(claims, names.email)
    name = text_value(claim(claims, names.name)) or email.split("@")[0][:NAME_LENGTH]
    return Identity(
        issuer=issuer,
        subject=subject,
        email=email,
        # Some providers send the flag as a string.
        email_verified=claims.get("email_verified") in (True, "true"),
        display_name=name,
        attributes=directory_attributes(claims, names),
    )
