"""The fast paths of the per-request code give exactly what the standard library's slow
paths give (they only skip work where the answer is known)."""

from datetime import UTC, datetime
from urllib.parse import quote, unquote_plus

from hypothesis import given, settings
from hypothesis import strategies as st

from b3scale.bbb.request import Param, decode_component, encode_value
from b3scale.cluster import meeting_ids
from b3scale.logs import iso_time

SETTINGS = settings(max_examples=300, derandomize=True, deadline=None, database=None)
#: Query-like text: mostly what a query holds, with escapes, pluses, padding and non-ASCII.
QUERYISH = st.lists(
    st.sampled_from([*"aZ09-_.~=+%&/ ", "%2", "%20", "%e2%9c%93", "ü", "\x00"]), max_size=30
).map("".join)


@SETTINGS
@given(st.text(max_size=40) | QUERYISH)
def test_encode_value_is_quote(value: str) -> None:
    assert encode_value(value) == quote(value, safe="-_.~")


@SETTINGS
@given(QUERYISH | st.text(max_size=40))
def test_decoded_component_is_unquote_plus(raw: str) -> None:
    assert decode_component(raw) == unquote_plus(raw)
    assert Param(raw, raw).value == unquote_plus(raw)


@SETTINGS
@given(st.text(max_size=20) | QUERYISH, st.text(max_size=40) | QUERYISH)
def test_a_pair_we_set_reads_as_if_parsed_from_the_wire(key: str, value: str) -> None:
    ours = Param.encoded(key, value)
    parsed = Param(encode_value(key), encode_value(value))
    assert (ours.raw_key, ours.raw_value, ours.key, ours.value) == (
        parsed.raw_key,
        parsed.raw_value,
        parsed.key,
        parsed.value,
    )
    assert (ours.key, ours.value) == (key, value)


@SETTINGS
@given(st.text(max_size=20), st.text(max_size=60))
def test_encoded_meeting_ids_decode_to_what_went_in(key: str, meeting_id: str) -> None:
    assert meeting_ids.decode(meeting_ids.encode(key, meeting_id)) == (key, meeting_id)
    assert encode_value(meeting_ids.encode(key, meeting_id)) == quote(
        meeting_ids.encode(key, meeting_id), safe="-_.~"
    )


@SETTINGS
@given(
    st.floats(min_value=0, max_value=4e9, allow_nan=False)
    | st.integers(0, 4 * 10**9).map(lambda s: s + 0.9999996)
    | st.integers(0, 4 * 10**9).map(lambda s: s + 0.001)
)
def test_log_time_is_datetimes_isoformat(now: float) -> None:
    assert iso_time(now) == datetime.fromtimestamp(now, UTC).isoformat(timespec="milliseconds")
