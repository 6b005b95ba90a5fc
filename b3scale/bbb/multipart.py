"""One file field of a multipart/form-data body (putRecordingTextTrack's upload)."""

from __future__ import annotations

import email.policy
from email.parser import BytesParser


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def multipart_file(body: bytes, content_type: str | None, name: str = "file") -> bytes | None:
    """The content of the form field ``name`` in a multipart/form-data body."""
    if media_type(content_type) != "multipart/form-data":
        return None
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    for part in message.iter_parts():
        if part.get_param("name", header="content-disposition") == name:
            payload = part.get_payload(decode=True)
            return payload if isinstance(payload, bytes) else b""
    return None
