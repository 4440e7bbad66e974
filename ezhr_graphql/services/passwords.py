"""The password policy: what a new password must be, checked wherever one is set.

Length first (Argon2 hashes whatever it is given, so a cap keeps megabytes out),
then characters, then guessability: the account's own email name, and the passwords
every credential-stuffing list starts with."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from ezhr_graphql.errors import InvalidInputError

# A local part this short ("al", "bob") turns up inside ordinary passphrases by chance;
# only longer ones are refused as a substring (any is refused as the whole password).
MIN_NAME_IN_PASSWORD = 4

# The most common passwords of public breach corpora (e.g. the SecLists and NCSC
# top lists), compared case-insensitively. Most are shorter than the default minimum
# length; they matter when a deployment lowers it, and the long ones matter always.
_COMMON = """
    123456 123456789 12345678 12345 1234567 1234567890 123123 111111 000000 654321
    666666 121212 112233 123321 159753 987654321 1q2w3e4r 1q2w3e4r5t 1q2w3e4r5t6y
    1qaz2wsx 1qaz2wsx3edc qazwsx qazwsxedc zaq12wsx zxcvbnm zxcvbnm123 asdfgh asdfghjkl
    qwerty qwerty123 qwerty1234 qwertyuiop qwertyuiop123 qwerty123456 qwertyuiop1234
    azerty 1234qwer abc123 abcd1234 abc12345 a1b2c3d4 aa123456 password password1
    password12 password123 password1234 password12345 passw0rd p@ssw0rd p@ssword
    pass1234 password! passwordpassword mypassword mypassword123 secret secret123
    letmein letmein123 letmeinnow welcome welcome1 welcome123 welcome1234 welcometo
    iloveyou iloveyou1 iloveyou123 iloveyou1234 admin admin123 admin1234 administrator
    administrator1 root toor changeme changeme123 changeme1234 default guest
    test test123 test1234 testtest qwertz monkey dragon master football baseball
    basketball soccer hockey superman batman spiderman starwars pokemon shadow sunshine
    princess flower freedom whatever trustno1 login hello hello123 hellohello michael
    jennifer jordan23 charlie computer internet samsung google apple chocolate
    cheese pepper ginger summer winter autumn spring mustang harley ferrari
    liverpool chelsea arsenal 11111111 111111111 1111111111 11223344 12341234
    123456789a 123456789q 1234567891 12345678910 123456789012 1234567890123
    0987654321 987654321a 88888888 99999999 55555555 22222222 00000000 12121212
    123qwe 123qweasd 123qweasdzxc qweasd qweasdzxc qwe123 asd123 zxc123
    q1w2e3r4 q1w2e3r4t5 q1w2e3r4t5y6 !qaz2wsx 1q2w3e 1q2w3e4r5 aaaaaa aaaaaaaa
    aaaaaaaaaaaa abcdef abcdefg abcdefgh abcdefghijkl abcdefghijklmnop
    passwordqwerty qwertypassword correcthorsebatterystaple
"""
COMMON_PASSWORDS = frozenset(_COMMON.split()) | {"correct horse battery staple"}


@dataclass(frozen=True, slots=True)
class PasswordPolicy:
    min_length: int = 12
    max_length: int = 256

    def check(self, password: str, email: str) -> str:
        """``password`` when it may be set for the account ``email``.

        Raises:
            InvalidInputError: on the field ``password``, saying which rule it breaks.
        """
        if len(password) < self.min_length:
            raise _invalid(f"password must be at least {self.min_length} characters")
        if len(password) > self.max_length:
            raise _invalid(f"password must be at most {self.max_length} characters")
        # Control characters cannot be typed reliably (and NUL ends C strings); lone
        # surrogates cannot even be encoded to hash.
        if any(unicodedata.category(c) in ("Cc", "Cs") for c in password):
            raise _invalid("password must not contain control characters")
        lowered = password.casefold()
        name = email.partition("@")[0].casefold()
        if name and (
            lowered in (name, email.casefold())
            or (len(name) >= MIN_NAME_IN_PASSWORD and name in lowered)
        ):
            raise _invalid("password must not contain the name of the email address")
        if lowered in COMMON_PASSWORDS:
            raise _invalid("password is one of the most common passwords; choose another")
        return password


def _invalid(message: str) -> InvalidInputError:
    return InvalidInputError("password", message)
