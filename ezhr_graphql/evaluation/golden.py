"""Golden sets: the questions an evaluation asks, read from a tab-separated file.

The first line that is neither blank nor a comment (``#``) names the columns:

- ``question``: what an employee asks;
- ``source``: the document that answers it (its file name, a trailing part of its
  path, or its title); empty when the documents cannot answer it. Several documents
  that each answer it are separated by ``|``;
- ``key``: a phrase a correct reply contains (empty for a question the documents
  cannot answer; may be empty for others); alternatives separated by ``|``;
- ``follow_up`` (optional): non-empty (``yes``) when the question is asked in the same
  conversation as the row before it; ``no``, ``false`` and ``0`` count as empty.

Blank lines and lines starting with ``#`` are ignored; fields are trimmed; a row may
leave out its trailing empty fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

COLUMNS = ("question", "source", "key", "follow_up")
REQUIRED = ("question", "source", "key")
NOT_A_FOLLOW_UP = frozenset({"", "no", "false", "0"})


class EvaluationError(Exception):
    """The evaluation cannot run; the command says why in one line (exit code 2)."""


class GoldenSetError(EvaluationError):
    """The golden set is missing or malformed."""


@dataclass(frozen=True, slots=True)
class GoldenQuestion:
    line: int
    question: str
    # Documents any of which answers it; none: the documents cannot answer it.
    sources: tuple[str, ...] = ()
    # Phrases any of which a correct reply contains; none: not checked.
    keys: tuple[str, ...] = ()
    follow_up: bool = False

    @property
    def answerable(self) -> bool:
        return bool(self.sources)

    @property
    def source(self) -> str:
        """The expected source as written in the golden set ("" when unanswerable)."""
        return "|".join(self.sources)


def read_golden_set(path: Path) -> list[GoldenQuestion]:
    """Raises:
    GoldenSetError: the file cannot be read, or is malformed.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")  # a spreadsheet's BOM is fine
    except FileNotFoundError:
        raise GoldenSetError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise GoldenSetError(f"{path}: a folder, not a golden set file") from None
    except UnicodeDecodeError:
        raise GoldenSetError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise GoldenSetError(f"{path}: {exc.strerror or exc}") from None
    return parse_golden_set(text, str(path))


def parse_golden_set(text: str, name: str = "golden set") -> list[GoldenQuestion]:
    """Raises:
    GoldenSetError: no header, an unknown or missing column, a malformed row, or no
        questions; the message names the file and the line.
    """
    header: list[str] | None = None
    questions: list[GoldenQuestion] = []
    for number, line in enumerate(text.removeprefix("\ufeff").splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = [field.strip() for field in line.split("\t")]
        if header is None:
            header = _header(fields, f"{name}:{number}")
        else:
            questions.append(_row(header, fields, f"{name}:{number}", number, not questions))
    if not questions:
        raise GoldenSetError(
            f"{name}: no questions (expected a header line with the columns "
            f"{', '.join(COLUMNS)} separated by tabs, then one question per line)"
        )
    return questions


def _header(fields: list[str], where: str) -> list[str]:
    names = [field.lower().replace("-", "_").replace(" ", "_") for field in fields]
    unknown = [name for name in names if name not in COLUMNS]
    if unknown:
        raise GoldenSetError(
            f"{where}: unknown column {unknown[0]!r} in the header (the columns are "
            f"{', '.join(COLUMNS)}, separated by tabs)"
        )
    repeated = [name for name in COLUMNS if names.count(name) > 1]
    if repeated:
        raise GoldenSetError(f"{where}: the column {repeated[0]!r} appears twice")
    missing = [name for name in REQUIRED if name not in names]
    if missing:
        raise GoldenSetError(
            f"{where}: the header has no {missing[0]!r} column (the columns are "
            f"{', '.join(COLUMNS)}, separated by tabs)"
        )
    return names


def _row(
    header: list[str], fields: list[str], where: str, line: int, first: bool
) -> GoldenQuestion:
    if len(fields) > len(header):
        raise GoldenSetError(
            f"{where}: {len(fields)} fields but the header names {len(header)} columns "
            "(is there a tab inside the question?)"
        )
    values = dict(zip(header, fields + [""] * (len(header) - len(fields)), strict=True))
    question = values["question"]
    if not question:
        raise GoldenSetError(f"{where}: the question is empty")
    sources = _alternatives(values["source"])
    keys = _alternatives(values["key"])
    if keys and not sources:
        raise GoldenSetError(
            f"{where}: a key phrase but no source (an empty source means the documents "
            "cannot answer the question, so no reply should contain a key phrase)"
        )
    follow_up = values.get("follow_up", "").lower() not in NOT_A_FOLLOW_UP
    if follow_up and first:
        raise GoldenSetError(f"{where}: a follow-up needs a question before it")
    return GoldenQuestion(line, question, sources, keys, follow_up)


def _alternatives(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split("|") if part.strip())
