from b3scale.bbb import parse
from b3scale.bbb.responses import BBBError, failed
from b3scale.bbb.rewrite import MEETING_ID_ELEMENTS, rewrite_elements

RECORDINGS = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b"<response><returncode>SUCCESS</returncode><recordings><recording>"
    b"<recordID>r1-1</recordID><meetingID>enc-1</meetingID>"
    b"<futureElement attr='x'>kept &amp; intact</futureElement>"
    b"<metadata><meetingId>enc-1</meetingId><other>enc-1</other></metadata>"
    b'<playback><format><preview><images><image alt="a" height="1" width="2">'
    b"https://node/p/1.png</image></images></preview></format></playback>"
    b"</recording></recordings></response>"
)


def decode(value: str) -> str | None:
    return {"enc-1": "room & 1", "enc-parent": "parent"}.get(value)


def test_only_the_named_elements_change() -> None:
    out = rewrite_elements(RECORDINGS, MEETING_ID_ELEMENTS, decode)
    expected = RECORDINGS.replace(
        b"<meetingID>enc-1</meetingID>", b"<meetingID>room &amp; 1</meetingID>"
    ).replace(b"<meetingId>enc-1</meetingId>", b"<meetingId>room &amp; 1</meetingId>")
    assert out == expected
    assert b"<other>enc-1</other>" in out


def test_unmapped_values_and_unrelated_documents_are_untouched() -> None:
    body = b"<response><meetingID>foreign</meetingID><x>enc-1</x></response>"
    assert rewrite_elements(body, MEETING_ID_ELEMENTS, decode) is not None
    assert rewrite_elements(body, MEETING_ID_ELEMENTS, decode) == body
    no_ids = b"<response><returncode>SUCCESS</returncode></response>"
    assert rewrite_elements(no_ids, MEETING_ID_ELEMENTS, decode) is no_ids


def test_cdata_and_entities_are_decoded_before_mapping() -> None:
    body = (
        b"<r><meetingID><![CDATA[enc-1]]></meetingID>"
        b"<parentMeetingID>enc-parent</parentMeetingID></r>"
    )
    out = rewrite_elements(body, MEETING_ID_ELEMENTS, decode)
    assert (
        out
        == b"<r><meetingID>room &amp; 1</meetingID><parentMeetingID>parent</parentMeetingID></r>"
    )


def test_failed_document_shape() -> None:
    body = failed("checksumError")
    assert body == (
        b"<response><returncode>FAILED</returncode><messageKey>checksumError</messageKey>"
        b"<message>Checksums do not match</message></response>"
    )
    assert parse.returncode(body) == "FAILED"
    assert parse.message_key(body) == "checksumError"
    assert BBBError("notFound").body() == failed("notFound")


def test_parse_meetings_reads_fields_attendees_and_metadata() -> None:
    body = (
        b"<response><returncode>SUCCESS</returncode><meetings><meeting>"
        b"<meetingName>A</meetingName><meetingID>m1</meetingID>"
        b"<internalMeetingID>abc-1</internalMeetingID><createTime>17</createTime>"
        b"<running>true</running><participantCount>2</participantCount>"
        b"<attendees><attendee><userID>u1</userID><role>MODERATOR</role></attendee>"
        b"<attendee><userID>u2</userID><role>VIEWER</role></attendee></attendees>"
        b"<metadata><bbb-origin>Greenlight</bbb-origin></metadata>"
        b"<isBreakout>false</isBreakout></meeting></meetings></response>"
    )
    [m] = parse.meetings(body)
    assert (m.meeting_id, m.internal_id, m.name, m.create_time) == ("m1", "abc-1", "A", 17)
    assert m.running and not m.is_breakout and m.parent_meeting_id is None
    assert m.count("participantCount") == 2
    assert [a["userID"] for a in m.attendees] == ["u1", "u2"]
    assert m.metadata == {"bbb-origin": "Greenlight"}
    empty = b"<response><returncode>SUCCESS</returncode><meetings/></response>"
    assert parse.meetings(empty) == []
