from urllib.parse import parse_qsl, urlsplit

from b3scale.bbb import checksum
from b3scale.bbb.request import Request, api_base_url


def test_params_keep_order_and_raw_encoding() -> None:
    raw = "name=Room+one&meetingID=a%20b&meta_x=%E2%9C%93&checksum=abc"
    req = Request.from_query("create", raw)
    assert req.query == "name=Room+one&meetingID=a%20b&meta_x=%E2%9C%93"
    assert req.get("name") == "Room one"
    assert req.meeting_id == "a b"
    assert req.get("meta_x") == "✓"
    assert "checksum" not in req


def test_leading_ampersand_and_empty_values() -> None:
    req = Request.from_query("getMeetings", "&random=random&flag&x=")
    assert list(req.items()) == [("random", "random"), ("flag", ""), ("x", "")]


def test_first_value_wins_like_bbb() -> None:
    req = Request.from_query("join", "meetingID=a&meetingID=b")
    assert req.meeting_id == "a"


def test_with_param_replaces_in_place_and_keeps_the_rest_byte_identical() -> None:
    req = Request.from_query("join", "fullName=J%C3%BCrgen+M&meetingID=old&role=viewer")
    changed = req.with_param("meetingID", "new id/ü")
    assert changed.query == "fullName=J%C3%BCrgen+M&meetingID=new%20id%2F%C3%BC&role=viewer"
    assert changed.meeting_id == "new id/ü"
    assert req.meeting_id == "old"  # immutable
    appended = req.with_param("createTime", "123")
    assert appended.query.endswith("&createTime=123")


def test_repeated_param_collapses_to_one_when_replaced() -> None:
    req = Request.from_query("join", "meetingID=a&x=1&meetingID=b")
    assert req.with_param("meetingID", "c").query == "meetingID=c&x=1"


def test_signed_url_verifies_with_the_backend_secret() -> None:
    req = Request.from_query("create", "name=A+b&meetingID=m")
    url = req.url("https://node.example/bigbluebutton/api", "node-secret", "sha512")
    parts = urlsplit(url)
    assert parts.path == "/bigbluebutton/api/create"
    assert checksum.verify("create", parts.query, "node-secret", ["sha512"])
    assert dict(parse_qsl(parts.query))["name"] == "A b"


def test_url_without_params() -> None:
    url = Request("getMeetings").url("http://n/bigbluebutton/api/", "s")
    digest = checksum.compute("getMeetings", "", "s")
    assert url == f"http://n/bigbluebutton/api/getMeetings?checksum={digest}"


def test_build_encodes_values() -> None:
    req = Request.build("end", {"meetingID": "a b&c", "password": "p"})
    assert req.query == "meetingID=a%20b%26c&password=p"
    assert req.meeting_id == "a b&c"


def test_api_base_url_has_one_trailing_slash() -> None:
    assert api_base_url("https://n/bigbluebutton/api") == "https://n/bigbluebutton/api/"
    assert api_base_url("https://n/bigbluebutton/api//") == "https://n/bigbluebutton/api/"
