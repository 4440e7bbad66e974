"""Single sign-on with an OpenID Connect provider: the authorization code flow with
PKCE, the ID token's checks, accounts made just in time, one-time codes."""

from ezhr_graphql.services.sso.errors import SignInError, SignInFailure
from ezhr_graphql.services.sso.service import Callback, SingleSignOn, Started

__all__ = ["Callback", "SignInError", "SignInFailure", "SingleSignOn", "Started"]
