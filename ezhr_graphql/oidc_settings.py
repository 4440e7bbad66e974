"""The single sign-on section of the settings (``EZHR_OIDC__...``): which OpenID
Connect provider signs people in, and how its claims map to our users.

Off by default: the server then signs people in with passwords only.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator

# The employee attributes a sign-in reads from the provider's claims.
ATTRIBUTE_NAMES = (
    "country",
    "office",
    "department",
    "employment_type",
    "preferred_language",
    "groups",
)


class ClaimNames(BaseModel):
    """Which claim carries what, by name; a dotted name reads a nested claim (e.g.
    ``address.country``). An attribute set to null is not read."""

    email: str = "email"
    name: str = "name"
    country: str | None = None
    office: str | None = None
    department: str | None = None
    employment_type: str | None = None
    preferred_language: str | None = "locale"
    groups: str | None = "groups"

    def attribute(self, name: str) -> str | None:
        """The claim of the attribute ``name`` (one of :data:`ATTRIBUTE_NAMES`)."""
        claim: str | None = getattr(self, name)
        return claim


def _absolute_url(name: str, value: str | None) -> None:
    if value is None:
        return
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"oidc.{name} must be an absolute http(s) URL")
    if parts.fragment:
        raise ValueError(f"oidc.{name} must not have a fragment")


class OidcSettings(BaseModel):
    enabled: bool = False
    # The provider's issuer, exactly as its discovery document names it, e.g.
    # https://login.microsoftonline.com/<tenant id>/v2.0 or https://accounts.google.com.
    # (Users keep it, in a column of 500 characters.)
    issuer: str | None = Field(default=None, max_length=500)
    client_id: str | None = None
    client_secret: SecretStr | None = None
    # How the server authenticates to the token endpoint ("none": PKCE only).
    token_endpoint_auth_method: Literal["client_secret_basic", "client_secret_post", "none"] = (
        "client_secret_basic"  # noqa: S105 - a method's name, not a secret
    )
    scopes: list[str] = Field(default_factory=lambda: ["openid", "email", "profile"])
    # Where the provider sends the browser back: this server's /auth/oidc/callback as
    # the browser reaches it, registered with the provider as a redirect URI.
    redirect_url: str | None = None
    # The single-page app, where the browser lands after signing in, with
    # #code=<one-time code> (redeemSignInCode) or #error=<code>&error_description=...
    spa_url: str | None = None
    claims: ClaimNames = ClaimNames()
    # Members of any of these groups (values of the groups claim) are administrators,
    # everyone else a member, set at each sign-in. Empty: sign-in leaves roles alone.
    admin_groups: list[str] = Field(default_factory=list)
    # Google Workspace: the domain to sign in from, sent as `hd` and required of the
    # ID token's `hd` claim.
    hosted_domain: str | None = None
    # Link a first sign-in to the local account with the same email even when the
    # provider does not say the email is verified (Entra ID sends no email_verified).
    trust_email: bool = False
    # Also read claims from the provider's userinfo endpoint (where some providers
    # put the profile claims of the authorization code flow).
    userinfo: bool = True
    # Email and password sign-in (login, register); off once everyone uses SSO.
    password_sign_in: bool = True
    # How long a sign-in may take at the provider, and a one-time code may wait.
    flow_seconds: int = Field(default=600, ge=60, le=3600)
    code_seconds: int = Field(default=60, ge=10, le=600)
    # Clock difference tolerated in the ID token's times.
    clock_skew_seconds: int = Field(default=60, ge=0, le=300)
    http_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    # How long the discovery document and signing keys are kept before being read
    # again (keys are also read again when a token names an unknown one).
    metadata_cache_seconds: int = Field(default=3600, ge=0)

    @field_validator("scopes")
    @classmethod
    def _openid_scope(cls, value: list[str]) -> list[str]:
        if "openid" not in value:
            raise ValueError("oidc.scopes must include openid")
        return value

    @model_validator(mode="after")
    def _complete_when_enabled(self) -> OidcSettings:
        if not self.enabled:
            if not self.password_sign_in:
                raise ValueError(
                    "oidc.password_sign_in is off and single sign-on is not enabled: "
                    "nobody could sign in"
                )
            return self
        missing = [
            f"EZHR_OIDC__{name.upper()}"
            for name in ("issuer", "client_id", "redirect_url", "spa_url")
            if not getattr(self, name)
        ]
        if missing:
            raise ValueError(f"single sign-on is enabled but {', '.join(missing)} is not set")
        for name in ("issuer", "redirect_url", "spa_url"):
            _absolute_url(name, getattr(self, name))
        public_client = self.token_endpoint_auth_method == "none"  # noqa: S105
        if not public_client and self.client_secret is None:
            raise ValueError(
                "EZHR_OIDC__CLIENT_SECRET is needed unless "
                "EZHR_OIDC__TOKEN_ENDPOINT_AUTH_METHOD is none"
            )
        return self

    @property
    def login_url(self) -> str | None:
        """Where the single-page app sends the browser to sign in: the callback's
        sibling ``login`` (so a path prefix added by a proxy is kept)."""
        if not self.enabled or self.redirect_url is None:
            return None
        base, _, _ = self.redirect_url.split("?", 1)[0].rpartition("/")
        return f"{base}/login"
