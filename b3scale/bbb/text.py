"""Characters XML 1.0 cannot carry, found and removed.

Everything b3scale answers is XML or JSON made from what clients and nodes sent. XML 1.0 has no
way to write NUL, most C0 control characters, lone UTF-16 surrogates or U+FFFE/U+FFFF; PostgreSQL
text cannot hold NUL either. Input carrying them is refused at the edge, and our own documents
drop them, so no answer is ever malformed.
"""

from __future__ import annotations

import re

#: Not allowed in XML 1.0 documents (https://www.w3.org/TR/xml/#charsets).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def is_clean(text: str) -> bool:
    """True when ``text`` can be stored and written as XML as it is."""
    return _NOT_XML.search(text) is None


def clean(text: str) -> str:
    """``text`` without the characters XML 1.0 cannot carry."""
    return _NOT_XML.sub("", text)
