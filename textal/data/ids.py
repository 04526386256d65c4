"""Content ids: the id of an item whose source has no id column.

The id is a hash of the *normalised* text, so re-ingesting a file (even one re-saved with other
line ends or Unicode normalisation) finds the same ids and stores and embeds nothing twice. The
stored text stays verbatim; normalisation is only ever used for hashing and duplicate detection.
"""

from __future__ import annotations

import hashlib
import unicodedata

CONTENT_ID_PREFIX = "h:"


def normalize_text(text: str) -> str:
    """NFC-normalise, collapse every run of Unicode whitespace to one space, strip the ends.

    Returns ``""`` exactly when ``text`` is empty or whitespace-only. Depends on the Unicode tables
    of the running Python only for characters assigned in recent Unicode versions.
    """
    return " ".join(unicodedata.normalize("NFC", text).split())


def content_id(text: str) -> str:
    """``"h:"`` + the first 16 bytes (32 hex digits) of the SHA-256 of the normalised text.

    ``text`` must be valid Unicode (no lone surrogates): the readers check that before hashing.
    Source ids that themselves start with ``"h:"`` could collide only if a workspace mixes sources
    with and without an id column.
    """
    digest = hashlib.sha256(normalize_text(text).encode("utf-8")).hexdigest()
    return CONTENT_ID_PREFIX + digest[:32]
