"""Logging set-up: JSON lines (``structured``) or human-readable lines (``plain``) on stderr.

b3scale numbers its levels like zerolog (-1 trace .. 5 panic); they are mapped onto Python's.
Structured records carry the ``extra={...}`` fields of the log call as top-level JSON keys.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import logging
import re
import sys
import threading
import time
from datetime import UTC, datetime
from typing import Any, TextIO

TRACE = 5
logging.addLevelName(TRACE, "TRACE")

#: zerolog level number -> Python logging level.
PYTHON_LEVELS: dict[int, int] = {
    -1: TRACE,
    0: logging.DEBUG,
    1: logging.INFO,
    2: logging.WARNING,
    3: logging.ERROR,
    4: logging.CRITICAL,
    5: logging.CRITICAL,
}

#: Attributes every LogRecord has; anything else came in through ``extra``.
_RECORD_FIELDS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _RECORD_FIELDS}


_JSON = json.JSONEncoder(default=str, ensure_ascii=False)
#: The second a timestamp was last made for, and its text (one strftime per second).
_second: tuple[int, str] = (-1, "")


def iso_time(now: float) -> str:
    """``now`` as ISO 8601 in UTC with milliseconds, as ``datetime.isoformat`` writes it."""
    global _second
    whole = int(now)
    micro = round((now - whole) * 1_000_000)  # rounded to microseconds, as datetime does
    if micro >= 1_000_000:
        whole, micro = whole + 1, micro - 1_000_000
    if _second[0] != whole:
        _second = (whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)))
    return f"{_second[1]}.{micro // 1000:03d}+00:00"


class JSONFormatter(logging.Formatter):
    """``{"level","time","logger","message", <extra fields>}``, one object per line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "level": record.levelname.lower(),
            "time": iso_time(record.created),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(extra_fields(record))
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return _JSON.encode(entry)


_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def printable(value: object) -> str:
    """``value`` as text with control characters escaped: a path a client sent cannot start
    a forged log line or put a NUL in the log."""
    text = str(value)
    if _UNPRINTABLE.search(text) is None:
        return text
    return _UNPRINTABLE.sub(lambda m: m[0].encode("unicode_escape").decode("ascii"), text)


def plain_fields(fields: dict[str, Any]) -> str:
    return " ".join(f"{k}={printable(v)}" for k, v in fields.items())


class PlainFormatter(logging.Formatter):
    """``time LEVEL logger: message key=value ...``."""

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
        fields = plain_fields(extra_fields(record))
        line = f"{when}Z {record.levelname:<5} {record.name}: {printable(record.getMessage())}"
        if fields:
            line = f"{line} {fields}"
        if record.exc_info:
            line = f"{line}\n{self.formatException(record.exc_info)}"
        return line


#: Where :func:`write_line` writes, once :func:`setup_logging` ran: (stream, format, level).
_direct: tuple[TextIO, str, int] | None = None

#: Access lines wait this long at most, to be written together: one write per burst of
#: requests, not one system call per request. Any other log line writes them first, so the
#: log keeps its order; so does the process's exit.
FLUSH_DELAY = 0.05
#: ... or until this many are waiting.
FLUSH_LINES = 256

_pending: list[str] = []
_pending_lock = threading.Lock()
_flush_due = False


def flush_pending() -> None:
    """Write the access lines that wait (from the loop's timer, before any other log line, at
    exit)."""
    global _flush_due
    with _pending_lock:
        _flush_due = False
        if not _pending or _direct is None:
            return
        text = "".join(_pending)
        _pending.clear()
        stream = _direct[0]
    try:
        stream.write(text)
        stream.flush()
    except (OSError, ValueError):
        pass  # stderr closed (the process is going away): nothing else could be done


def _add_pending(line: str) -> None:
    global _flush_due
    with _pending_lock:
        _pending.append(line)
        full = len(_pending) >= FLUSH_LINES
        schedule = not full and not _flush_due
        _flush_due = _flush_due or schedule
    if full:
        flush_pending()
    elif schedule:
        try:
            asyncio.get_running_loop().call_later(FLUSH_DELAY, flush_pending)
        except RuntimeError:  # no loop in this thread: nobody would write it later
            flush_pending()


def write_line(
    level: int, name: str, message: str, fields: dict[str, Any], *, batched: bool = False
) -> None:
    """One log line, formatted exactly as the handler would, without logging's machinery
    (LogRecord, caller lookup, handler chain). ``batched``: a line that may come once per
    request, like the access line, written with the other lines of its burst
    (:data:`FLUSH_DELAY`), in order, instead of a write of its own (which would also write
    the waiting access lines)."""
    if _direct is None:
        logging.getLogger(name).log(level, message, extra=fields)
        return
    stream, fmt, threshold = _direct
    if level < threshold:
        return
    line = _format_line(fmt, level, name, message, fields)
    if batched:
        _add_pending(line)
        return
    flush_pending()
    stream.write(line)


def _format_line(fmt: str, level: int, name: str, message: str, fields: dict[str, Any]) -> str:
    now = time.time()
    name_of_level = logging.getLevelName(level)
    if fmt == "structured":
        entry = {
            "level": name_of_level.lower(),
            "time": iso_time(now),
            "logger": name,
            "message": message,
            **fields,
        }
        return _JSON.encode(entry) + "\n"
    when = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
    return f"{when}Z {name_of_level:<5} {name}: {message} {plain_fields(fields)}\n"


#: JSON's string encoder (the C one, as _JSON uses it): no encoder object per line.
_json_string = json.encoder.encode_basestring


def access_line(
    name: str, method: str, path: str, status: int, latency_ms: float, remote: str | None
) -> None:
    """The line each HTTP request leaves (INFO, message "request"): the same line
    :func:`write_line` makes of these fields, built without a dict or an encoder object, and
    written with the others of its burst (:data:`FLUSH_DELAY`)."""
    if _direct is None:
        write_line(
            logging.INFO, name, "request", _access_fields(method, path, status, latency_ms, remote)
        )
        return
    _, fmt, threshold = _direct
    if threshold > logging.INFO:
        return
    if fmt != "structured":
        fields = _access_fields(method, path, status, latency_ms, remote)
        _add_pending(_format_line(fmt, logging.INFO, name, "request", fields))
        return
    where = "null" if remote is None else _json_string(remote)
    _add_pending(
        f'{{"level": "info", "time": "{iso_time(time.time())}", "logger": {_json_string(name)}, '
        f'"message": "request", "method": {_json_string(method)}, "path": {_json_string(path)}, '
        f'"status": {int(status)}, "latency_ms": {float(latency_ms)!r}, "remote": {where}}}\n'
    )


def _access_fields(
    method: str, path: str, status: int, latency_ms: float, remote: str | None
) -> dict[str, Any]:
    return {
        "method": method,
        "path": path,
        "status": status,
        "latency_ms": latency_ms,
        "remote": remote,
    }


class _OrderedHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes the waiting access lines before its own, so the log stays in order."""

    def emit(self, record: logging.LogRecord) -> None:
        flush_pending()
        super().emit(record)

    def flush(self) -> None:  # logging.shutdown, in a worker that ends with os._exit
        flush_pending()
        super().flush()


def setup_logging(level: int, fmt: str, stream: TextIO | None = None) -> None:
    """Route every logger to one stderr handler in the chosen format."""
    global _direct
    flush_pending()
    _direct = (stream or sys.stderr, fmt, PYTHON_LEVELS[level])
    handler = _OrderedHandler(stream or sys.stderr)
    handler.setFormatter(JSONFormatter() if fmt == "structured" else PlainFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(PYTHON_LEVELS[level])


atexit.register(flush_pending)


class Episode:
    """One warning line per episode of a recurring failure (a database outage, an overload),
    not one per request: the first occurrence is logged, the next ones only counted until
    ``quiet`` seconds have passed, and the next line says how many were not logged."""

    def __init__(self, logger: logging.Logger, message: str, quiet: float = 10.0) -> None:
        self._logger = logger
        self._message = message
        self._quiet = quiet
        self._last = float("-inf")
        self._unlogged = 0

    def report(self, **fields: Any) -> None:
        now = time.monotonic()
        if now - self._last < self._quiet:
            self._unlogged += 1
            return
        self._last = now
        extra = {**fields, "unlogged_since_last": self._unlogged} if self._unlogged else fields
        self._unlogged = 0
        self._logger.warning(self._message, extra=extra)
