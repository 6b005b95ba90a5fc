"""The access log is cheap by construction (one line built without an encoder object, lines of a
burst written together) and still says exactly what the generic log line would say, in order."""

import asyncio
import io
import json
import logging
import re
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from b3scale import logs

SETTINGS = settings(max_examples=200, derandomize=True, deadline=None, database=None)
TIME = re.compile(r'"time": "[^"]*"')


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    """b3scale's logging set up on a string, and the test runner's set back afterwards."""
    root = logging.getLogger()
    handlers, level, direct = list(root.handlers), root.level, logs._direct
    stream = io.StringIO()
    logs.setup_logging(1, "structured", stream)
    try:
        yield stream
    finally:
        logs.flush_pending()
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)
        logs._direct = direct


@SETTINGS
@given(
    method=st.text(max_size=10),
    path=st.text(max_size=60),
    status=st.integers(100, 599),
    latency=st.floats(0, 1e6, allow_nan=False).map(lambda x: round(x, 2)),
    remote=st.none() | st.text(max_size=40),
)
def test_the_access_line_is_the_generic_line(
    method: str, path: str, status: int, latency: float, remote: str | None
) -> None:
    fields = {
        "method": method,
        "path": path,
        "status": status,
        "latency_ms": latency,
        "remote": remote,
    }
    for fmt in ("structured", "plain"):
        generic, fast = io.StringIO(), io.StringIO()
        logs._direct = (generic, fmt, logging.INFO)
        logs.write_line(logging.INFO, "b3scale.access", "request", fields)
        logs._direct = (fast, fmt, logging.INFO)
        logs.access_line("b3scale.access", method, path, status, latency, remote)
        logs.flush_pending()
        logs._direct = None
        if fmt == "structured":
            untimed = {"time": ""}
            assert json.loads(fast.getvalue()) | untimed == json.loads(generic.getvalue()) | untimed
            assert TIME.sub("", fast.getvalue()) == TIME.sub("", generic.getvalue())
            assert fast.getvalue().count("\n") == 1
        else:
            assert fast.getvalue()[24:] == generic.getvalue()[24:]


async def test_access_lines_wait_briefly_and_never_overtake(log_stream: io.StringIO) -> None:
    logs.access_line("b3scale.access", "GET", "/one", 302, 0.5, "127.0.0.1")
    logs.access_line("b3scale.access", "GET", "/two", 200, 0.5, "127.0.0.1")
    assert log_stream.getvalue() == ""  # one write for the burst, not one per request
    logging.getLogger("b3scale.test").warning("something happened")
    written = [json.loads(line) for line in log_stream.getvalue().splitlines()]
    assert [e.get("path", e["message"]) for e in written] == ["/one", "/two", "something happened"]

    logs.access_line("b3scale.access", "GET", "/three", 200, 0.5, None)
    await asyncio.sleep(logs.FLUSH_DELAY * 3)
    last = json.loads(log_stream.getvalue().splitlines()[-1])
    assert (last["path"], last["remote"], last["level"]) == ("/three", None, "info")


async def test_a_long_burst_is_written_before_the_delay(log_stream: io.StringIO) -> None:
    for n in range(logs.FLUSH_LINES):
        logs.access_line("b3scale.access", "GET", f"/{n}", 200, 0.1, "::1")
    assert len(log_stream.getvalue().splitlines()) == logs.FLUSH_LINES


def test_without_a_loop_the_line_is_written_at_once(log_stream: io.StringIO) -> None:
    logs.access_line("b3scale.access", "GET", "/now", 200, 0.1, "::1")
    assert json.loads(log_stream.getvalue())["path"] == "/now"


def test_below_info_no_access_line(log_stream: io.StringIO) -> None:
    logs.setup_logging(2, "structured", log_stream)
    logs.access_line("b3scale.access", "GET", "/quiet", 200, 0.1, "::1")
    logs.flush_pending()
    assert log_stream.getvalue() == ""


@SETTINGS
@given(
    message=st.text(max_size=30),
    fields=st.dictionaries(
        st.text(min_size=1, max_size=10).filter(lambda k: k not in ("level", "time", "logger")),
        st.none() | st.text(max_size=40) | st.integers(),
        max_size=4,
    ),
)
def test_a_batched_line_is_the_generic_line(message: str, fields: dict[str, object]) -> None:
    for fmt in ("structured", "plain"):
        generic, batched = io.StringIO(), io.StringIO()
        logs._direct = (generic, fmt, logging.INFO)
        logs.write_line(logging.INFO, "b3scale.cluster.router", message, fields)
        logs._direct = (batched, fmt, logging.INFO)
        logs.write_line(logging.INFO, "b3scale.cluster.router", message, fields, batched=True)
        logs.flush_pending()
        logs._direct = None
        if fmt == "structured":
            assert TIME.sub("", batched.getvalue()) == TIME.sub("", generic.getvalue())
            assert batched.getvalue().count("\n") == 1
        else:
            assert batched.getvalue()[24:] == generic.getvalue()[24:]


async def test_batched_lines_wait_with_the_access_lines_in_order(log_stream: io.StringIO) -> None:
    logs.write_line(
        logging.INFO, "b3scale.cluster.router", "placed meeting", {"meeting": "r"}, batched=True
    )
    logs.access_line("b3scale.access", "GET", "/create", 200, 0.5, "127.0.0.1")
    logs.write_line(logging.DEBUG, "b3scale.cluster.router", "below", {}, batched=True)
    assert log_stream.getvalue() == ""  # one write for the burst
    await asyncio.sleep(logs.FLUSH_DELAY * 3)
    written = [json.loads(line) for line in log_stream.getvalue().splitlines()]
    assert [e.get("path", e["message"]) for e in written] == ["placed meeting", "/create"]
    assert written[0]["meeting"] == "r"
