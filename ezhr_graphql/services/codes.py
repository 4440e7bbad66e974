"""The codes attributes are checked against: countries (ISO 3166-1 alpha-2, the
officially assigned ones) and the shape of language tags (BCP 47: a language, then
optionally a script and a region)."""

from __future__ import annotations

import re

_COUNTRIES = """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN
    BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ
    DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL
    GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM
    JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME
    MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP
    NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD
    SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO
    TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW
"""
COUNTRIES = frozenset(_COUNTRIES.split())

# language [-script] [-region]: "vi", "en-US", "zh-Hant-TW", "es-419".
_LANGUAGE_TAG = re.compile(r"([a-z]{2,3})(?:-([a-z]{4}))?(?:-([a-z]{2}|[0-9]{3}))?", re.ASCII)


def country(code: str) -> str | None:
    """``code`` upper-cased when it is an assigned country code, else ``None``."""
    upper = code.strip().upper()
    return upper if upper in COUNTRIES else None


def language_tag(tag: str) -> str | None:
    """``tag`` in its usual case ("en-US", "zh-Hant"), or ``None`` when it is not a
    language tag (a region it names must be a country code or three digits)."""
    match = _LANGUAGE_TAG.fullmatch(tag.strip().replace("_", "-").lower())
    if match is None:
        return None
    language, script, region = match.groups()
    if region is not None and region.isalpha() and region.upper() not in COUNTRIES:
        return None
    parts = [language]
    if script is not None:
        parts.append(script.title())
    if region is not None:
        parts.append(region.upper())
    return "-".join(parts)
