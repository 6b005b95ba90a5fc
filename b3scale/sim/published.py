"""A simulated node's published recording on disk, as BBB leaves it for its post-publish
hook: ``<published>/presentation/<recordID>/`` with metadata.xml and the player's files."""

from __future__ import annotations

import hashlib
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from b3scale.sim.state import Recording

#: The webcam video's size: large enough to need several upload requests.
VIDEO_BYTES = 20 * 1024 * 1024 + 12345


def _video(record_id: str, size: int) -> bytes:
    """Deterministic bytes (the same recording always has the same files)."""
    seed = hashlib.sha256(record_id.encode()).digest()
    block = hashlib.sha512(seed).digest() * 1024
    return (block * (size // len(block) + 1))[:size]


def metadata_xml(recording: Recording, node_url: str, fmt: str = "presentation") -> bytes:
    meta = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in recording.metadata.items())
    link = (
        f"{node_url}/playback/presentation/2.3/{recording.record_id}"
        if fmt == "presentation"
        else f"{node_url}/playback/{fmt}/{recording.record_id}/"
    )
    image = f"{node_url}/presentation/{recording.record_id}/presentation/slide-1.png"
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<recording>'
        f"<id>{recording.record_id}</id><state>published</state><published>true</published>"
        f"<start_time>{recording.start_time}</start_time><end_time>{recording.end_time}</end_time>"
        f"<participants>{recording.participants}</participants><raw_size>1048576</raw_size>"
        f"<meeting id={quoteattr(recording.record_id)} externalId={quoteattr(recording.meeting_id)}"
        f' name={quoteattr(recording.name)} breakout="false"/>'
        f"<meta>{meta}</meta>"
        f"<playback><format>{fmt}</format>"
        f"<link>{escape(link)}</link><processing_time>5120</processing_time>"
        "<duration>600000</duration><size>2048</size>"
        f'<extensions><preview><images><image width="176" height="136" alt="Slide 1">'
        f"{escape(image)}</image></images></preview></extensions></playback></recording>"
    ).encode()


def write_published(
    recording: Recording, node_url: str, root: Path, formats: tuple[str, ...] = ("presentation",)
) -> Path:
    """The recording's formats under ``root`` (presentation: the player's data; video: a
    page with the video, as BBB's video format has); returns the first format's folder."""
    folders = [_write_format(recording, node_url, root, fmt) for fmt in formats]
    return folders[0]


def _write_format(recording: Recording, node_url: str, root: Path, fmt: str) -> Path:
    folder = root / fmt / recording.record_id
    if fmt != "presentation":
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "metadata.xml").write_bytes(metadata_xml(recording, node_url, fmt))
        (folder / "video-0.m4v").write_bytes(_video(recording.record_id, 64 * 1024))
        (folder / "index.html").write_text(
            f"<!DOCTYPE html><html><head><title>{escape(recording.name)}</title></head>"
            f'<body><h1 id="title">{escape(recording.name)}</h1>'
            '<video src="video-0.m4v" controls></video></body></html>'
        )
        return folder
    (folder / "video").mkdir(parents=True, exist_ok=True)
    (folder / "presentation").mkdir(exist_ok=True)
    (folder / "metadata.xml").write_bytes(metadata_xml(recording, node_url))
    (folder / "shapes.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"/>')
    (folder / "presentation" / "slide-1.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 100)
    (folder / "video" / "webcams.webm").write_bytes(_video(recording.record_id, VIDEO_BYTES))
    (folder / "index.html").write_text(
        f"<!DOCTYPE html><html><head><title>{escape(recording.name)}</title></head>"
        f"<body><h1>Recording {escape(recording.name)}</h1>"
        '<video src="video/webcams.webm"></video></body></html>'
    )
    return folder
