"""YAML front matter of Markdown uploads: effective date, tags and other metadata."""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable
from typing import Any

import yaml  # type: ignore[import-untyped]

from ezhr_graphql.rag.parsing.text import normalise, squeeze_spaces

_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when available
_EFFECTIVE_DATE_KEYS = ("effective_date", "effective", "effective_from", "valid_from", "date")
_MAX_METADATA_FIELDS = 50
_MAX_METADATA_VALUE = 1000


def load_front_matter(source: str) -> dict[str, Any]:
    try:
        loaded = yaml.load(source, Loader=_YAML_LOADER)  # noqa: S506 - a safe loader
    except (yaml.YAMLError, ValueError, TypeError, OverflowError, RecursionError):
        return {}
    if not isinstance(loaded, dict):
        return {}
    return {str(key): value for key, value in loaded.items() if isinstance(key, str | int)}


def front_effective_date(front: dict[str, Any]) -> tuple[str | None, datetime.date | None]:
    for key in _EFFECTIVE_DATE_KEYS:
        value = _as_date(front.get(key))
        if value is not None:
            return key, value
    return None, None


def _as_date(value: object) -> datetime.date | None:
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, str):
        match = re.match(r"\s*(\d{4}-\d{2}-\d{2})", value)
        if match:
            try:
                return datetime.date.fromisoformat(match.group(1))
            except ValueError:
                return None
    return None


def front_tags(front: dict[str, Any]) -> tuple[str, ...]:
    value = front.get("tags")
    items: Iterable[object]
    if isinstance(value, str):
        items = value.split(",")
    elif isinstance(value, list | tuple):
        items = [item for item in value if _is_scalar(item)]
    else:
        return ()
    tags = (squeeze_spaces(normalise(str(item))) for item in items)
    return tuple(dict.fromkeys(tag for tag in tags if tag))


def _is_scalar(value: object) -> bool:
    return isinstance(value, str | int | float | datetime.date) and not isinstance(value, bool)


def front_metadata(front: dict[str, Any], *, exclude: set[str]) -> dict[str, str]:
    metadata: dict[str, str] = {}
    for key, value in front.items():
        if key in exclude or len(metadata) >= _MAX_METADATA_FIELDS:
            continue
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif _is_scalar(value):
            text = value.isoformat() if isinstance(value, datetime.date) else str(value)
        else:
            continue  # None, lists, mappings
        text = normalise(text).strip()
        if text and len(text) <= _MAX_METADATA_VALUE:
            metadata[key] = text
    return metadata
