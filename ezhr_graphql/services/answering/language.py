"""The languages replies are given in: English and Vietnamese, told apart by the
letters only Vietnamese uses. The no-answer message in each."""

from __future__ import annotations

import re
import unicodedata

ENGLISH = "en"
VIETNAMESE = "vi"
LANGUAGES = (ENGLISH, VIETNAMESE)

# Letters of Vietnamese that English never uses: the modified vowels and đ, and every
# vowel with a tone mark (precomposed, as text is NFC-normalised).
_VIETNAMESE_LETTERS = frozenset(
    "ăâđêôơưàáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ"
)
# Of those, the ones French, Spanish or a borrowed word ("café") never use.
_ONLY_VIETNAMESE = frozenset("ăâđêôơưảãạằắẳẵặầấẩẫậẻẽẹềếểễệỉĩịỏõọồốổỗộờớởỡợủũụừứửữựỷỹỵ") - frozenset(
    "âêô"
)
_WORD = re.compile(r"\w+", re.UNICODE)

NO_ANSWER = {
    ENGLISH: (
        "I could not find this in the HR documents I have. Please ask HR, or ask them to "
        "add the policy that covers it."
    ),
    VIETNAMESE: (
        "Tôi không tìm thấy nội dung này trong các tài liệu nhân sự hiện có. Vui lòng hỏi "
        "bộ phận Nhân sự, hoặc đề nghị họ bổ sung quy định liên quan."
    ),
}


def detect_language(text: str) -> str:
    """``vi`` when a fair share of the words carry Vietnamese letters, one of them a
    letter only Vietnamese uses, else ``en``."""
    words = _WORD.findall(unicodedata.normalize("NFC", text.lower()))
    if not words:
        return ENGLISH
    marked = sum(1 for word in words if _VIETNAMESE_LETTERS.intersection(word))
    only = any(_ONLY_VIETNAMESE.intersection(word) for word in words)
    return VIETNAMESE if only and marked * 5 >= len(words) else ENGLISH


def no_answer_messages(own: str, default_english: str = NO_ANSWER[ENGLISH]) -> dict[str, str]:
    """What an agent says when nothing relevant is found, by language: its own message
    in the language it is written in, the server's default in the others."""
    messages = {ENGLISH: default_english or NO_ANSWER[ENGLISH], VIETNAMESE: NO_ANSWER[VIETNAMESE]}
    if own.strip():
        messages[detect_language(own)] = own.strip()
    return messages
