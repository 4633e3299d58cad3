"""Validation shared by every encoder's ``encode_text``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from core.errors import BadInputError

MAX_QUERY_CHARS = 2000  # text past this is cut before tokenising (towers read <= 128 tokens)


def clean_texts(texts: Sequence[str] | Any) -> list[str]:
    """Validate text inputs: str (or UTF-8 bytes), cut to :data:`MAX_QUERY_CHARS`.

    Empty strings are allowed (they embed as an empty sentence); callers that need a
    non-empty query check that themselves.

    Raises:
        BadInputError: ``texts`` is a single string, or an entry is neither text nor
            valid UTF-8 bytes.
    """
    if isinstance(texts, str | bytes):
        raise BadInputError("encode_text takes a list of strings, not a single string")
    cleaned = []
    for n, text in enumerate(texts):
        if isinstance(text, bytes | bytearray):
            try:
                text = bytes(text).decode("utf-8")
            except UnicodeDecodeError:
                raise BadInputError(f"text #{n} is not valid UTF-8") from None
        if not isinstance(text, str):
            raise BadInputError(f"text #{n} is a {type(text).__name__}, not a string")
        cleaned.append(text[:MAX_QUERY_CHARS])
    return cleaned
