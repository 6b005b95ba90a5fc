"""Recordings imported from the nodes: how an import is recorded, and how an imported
recording is written in getRecordings (BBB's shape, the node's meeting ID, which the gateway
turns into the frontend's own like any node answer)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit
from xml.sax.saxutils import escape, quoteattr

from b3scale.bbb.recording_metadata import RecordingMetadata
from b3scale.cluster import meeting_ids
from b3scale.cluster.recording_access import protected_link
from b3scale.store import frontends as frontend_store
from b3scale.store import meetings as meeting_store
from b3scale.store import recordings as store
from b3scale.store.backends import Backend
from b3scale.store.db import Database
from b3scale.store.recordings import RecordingRow


class ImportRefused(ValueError):
    """The recording cannot be imported (its meeting names no frontend we know, or it
    exists already for another frontend or from another node)."""


class ImportForbidden(PermissionError):
    """A node pushed a recording of a frontend whose meetings it never hosted."""


def on_playback_host(url: str, playback_url: str | None) -> str:
    """``url`` (on the node) with the scheme and host of the playback host, path kept."""
    if not url or not playback_url:
        return url
    node = urlsplit(url)
    host = urlsplit(playback_url)
    path = host.path.rstrip("/") + node.path
    return urlunsplit((host.scheme, host.netloc, path, node.query, node.fragment))


async def import_recording(
    db: Database, found: RecordingMetadata, node: Backend | None, playback_url: str | None
) -> RecordingRow:
    """Import what ``node`` pushed (None: an admin's import, of any frontend's recording).

    A node's recording is taken only for a frontend whose meetings the node hosted, and never
    replaces one another node pushed: a node's token (a credential kept on a BBB server)
    cannot plant recordings in any tenant's getRecordings or overwrite another node's.
    """
    decoded = meeting_ids.decode(found.meeting_id)
    key = decoded[0] if decoded else found.metadata.get("b3s-frontend")
    frontend = await frontend_store.select_frontend_by_key(db, key) if key else None
    if frontend is None:
        raise ImportRefused(f"the recording's meeting {found.meeting_id!r} is no frontend's")
    if node is not None and not await meeting_store.has_hosted(db, frontend.id, node.id):
        raise ImportForbidden("this node never hosted a meeting of the recording's frontend")
    if node is not None and await store.upload_owner(db, found.record_id) not in (None, node.host):
        raise ImportRefused("the recording's files are pushed by another node")
    external = decoded[1] if decoded else found.meeting_id
    published, protected = visibility(frontend.settings, found.published)
    fmt = dict(found.format)
    if fmt:
        fmt["url"] = on_playback_host(str(fmt.get("url", "")), playback_url)
        fmt["preview"] = [
            {**image, "url": on_playback_host(image["url"], playback_url)}
            for image in fmt.get("preview", [])
        ]
    try:
        return await store.upsert_recording(
            db,
            RecordingRow(
                record_id=found.record_id,
                frontend_id=frontend.id,
                meeting_id=external,
                node_meeting_id=found.meeting_id,
                name=found.name,
                is_breakout=found.is_breakout,
                published=published,
                state="published" if published else "unpublished",
                protected=protected,
                start_time=found.start_time,
                end_time=found.end_time,
                participants=found.participants,
                raw_size=found.raw_size,
                metadata={k: v for k, v in found.metadata.items() if k != "b3s-frontend"},
                formats=[fmt] if fmt else [],
                backend_host=node.host if node else None,
            ),
            same_node_only=node is not None,
        )
    except PermissionError:
        raise ImportRefused(
            "a recording with this ID belongs to another frontend or was pushed by another node"
        ) from None


#: The frontend setting ``recordings.visibility_override`` (b3scale's values): (published,
#: protected) of every recording imported for the frontend.
VISIBILITY = {
    "published": (True, False),
    "public": (True, False),
    "unpublished": (False, False),
    "protected": (True, True),
    "public_protected": (True, True),
}


def visibility(settings: dict[str, Any], published: bool) -> tuple[bool, bool]:
    recordings = settings.get("recordings")
    override = recordings.get("visibility_override") if isinstance(recordings, dict) else None
    return (
        VISIBILITY.get(override, (published, False))
        if isinstance(override, str)
        else (
            published,
            False,
        )
    )


def _el(name: str, value: object) -> str:
    if isinstance(value, bool):
        value = "true" if value else "false"
    return f"<{name}>{escape(str(value))}</{name}>"


def _format_xml(fmt: dict[str, Any]) -> str:
    def attribute(image: dict[str, Any], name: str) -> str:
        return f"{name}={quoteattr(str(image.get(name, '')))}"

    images = "".join(
        f"<image {attribute(i, 'alt')} {attribute(i, 'height')} {attribute(i, 'width')}>"
        f"{escape(str(i.get('url', '')))}</image>"
        for i in fmt.get("preview", [])
    )
    preview = f"<preview><images>{images}</images></preview>" if images else ""
    return (
        "<format>"
        + _el("type", fmt.get("type", ""))
        + _el("url", fmt.get("url", ""))
        + _el("processingTime", fmt.get("processing_time", 0))
        + _el("length", fmt.get("length", 0))
        + _el("size", fmt.get("size", 0))
        + preview
        + "</format>"
    )


def recording_xml(row: RecordingRow, link_key: bytes) -> bytes:
    """The ``<recording>`` element as BBB writes it in getRecordings; a protected recording's
    playback URLs are signed links that expire (``link_key`` signs them)."""
    metadata = "".join(_el(k, v) for k, v in row.metadata.items() if _is_name(k))
    shown = row.formats
    if row.protected:
        shown = [
            {**f, "url": protected_link(link_key, row.record_id, str(f.get("url", "")))}
            for f in row.formats
        ]
    formats = "".join(_format_xml(f) for f in shown)
    return (
        "<recording>"
        + _el("recordID", row.record_id)
        + _el("meetingID", row.node_meeting_id)
        + _el("internalMeetingID", row.record_id)
        + _el("name", row.name)
        + _el("isBreakout", row.is_breakout)
        + _el("published", row.published)
        + _el("state", row.state)
        + _el("startTime", row.start_time)
        + _el("endTime", row.end_time)
        + _el("participants", row.participants)
        + _el("rawSize", row.raw_size)
        + f"<metadata>{metadata}</metadata>"
        + _el("protected", row.protected)
        + f"<playback>{formats}</playback>"
        + "<data></data>"
        + "</recording>"
    ).encode("utf-8")


def _is_name(key: str) -> bool:
    """An XML element name (metadata keys come from the node's create parameters)."""
    return (
        bool(key)
        and (key[0].isalpha() or key[0] == "_")
        and all(c.isalnum() or c in "-_." for c in key)
    )
