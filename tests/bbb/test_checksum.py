import hashlib

import pytest

from b3scale.bbb import checksum

SECRET = "639259d4-9dd8-4b25-bf01-95f9567eaf4b"
QUERY = "name=Test+Meeting&meetingID=abc123&attendeePW=111222&moderatorPW=333444"

# spec/bbb-api.md §1.1, from the BBB docs example
VECTORS = {
    "sha1": "1fcbb0c4fc1f039f73aa6d697d2db9ba7f803f17",
    "sha256": "da9185f7f333cfdfcd6eeac32dca3777510c4c436020d8b887ba5515bd1d189e",
    "sha384": "891ac633df39d0a1b4f8d597f3e190833216c4b29c4fb51ea3ca72757eeb958d"
    "6e7b49a845cf29f5c6019c7d29d029d1",
    "sha512": "de73ad61d11a5c801b68d4bd6ec5248546085cefb0b25c85f3c46249ea93a3a4"
    "b120f92c0a8a58d7512cb77821884951a3b01245f3435dbbef49fff3cc3988b4",
}


@pytest.mark.parametrize(("algorithm", "expected"), VECTORS.items())
def test_docs_vectors(algorithm: str, expected: str) -> None:
    assert checksum.compute("create", QUERY, SECRET, algorithm) == expected
    assert checksum.verify("create", f"{QUERY}&checksum={expected}", SECRET)


def test_empty_query_vector() -> None:
    expected = "46cf608d2b96da8e287911640412c8a08d0ee33e"
    assert checksum.compute("getMeetings", "", "s3cr3t", "sha1") == expected
    assert checksum.verify("getMeetings", f"checksum={expected}", "s3cr3t")
    assert checksum.verify("getMeetings", f"&checksum={expected}", "s3cr3t")  # bbb-client


@pytest.mark.parametrize("algorithm", list(checksum.ALGORITHMS))
@pytest.mark.parametrize(
    "query",
    [
        "name=Room+one&meetingID=r1",
        "name=Room%20one&meetingID=r1",
        "fullName=J%C3%BCrgen+M%C3%BCller&meetingID=%E4%BC%9A%E8%AE%AE",
        "meetingID=a&meetingID=b",
    ],
)
@pytest.mark.parametrize("position", ["first", "middle", "last"])
def test_checksum_anywhere_in_the_raw_query(algorithm: str, query: str, position: str) -> None:
    digest = hashlib.new(algorithm, f"join{query}{SECRET}".encode()).hexdigest()
    pairs = query.split("&")
    if position == "first":
        signed = f"checksum={digest}&{query}"
    elif position == "middle":
        signed = "&".join([pairs[0], f"checksum={digest}", *pairs[1:]])
    else:
        signed = f"{query}&checksum={digest}"
    if position == "middle" and len(pairs) == 1:
        signed = f"{query}&checksum={digest}"
    assert checksum.verify("join", signed, SECRET)
    assert not checksum.verify("create", signed, SECRET)
    assert not checksum.verify("join", signed, SECRET + "x")


def test_encoding_is_not_normalised() -> None:
    digest = checksum.compute("create", "name=a+b", SECRET)
    assert checksum.verify("create", f"name=a+b&checksum={digest}", SECRET)
    assert not checksum.verify("create", f"name=a%20b&checksum={digest}", SECRET)


def test_uppercase_checksum_is_accepted() -> None:
    digest = checksum.compute("end", "meetingID=x", SECRET).upper()
    assert checksum.verify("end", f"meetingID=x&checksum={digest}", SECRET)


@pytest.mark.parametrize(
    "raw", ["meetingID=x", "meetingID=x&checksum=", "meetingID=x&checksum=abc", "checksum=zz"]
)
def test_missing_or_malformed_checksums_fail(raw: str) -> None:
    assert not checksum.verify("end", raw, SECRET)


def test_allowed_algorithms_restrict_what_is_accepted() -> None:
    sha1 = checksum.compute("end", "meetingID=x", SECRET, "sha1")
    sha512 = checksum.compute("end", "meetingID=x", SECRET, "sha512")
    assert not checksum.verify("end", f"meetingID=x&checksum={sha1}", SECRET, ["sha512"])
    assert checksum.verify("end", f"meetingID=x&checksum={sha512}", SECRET, ["sha512"])


def test_form_post_rebuilds_a_sorted_java_encoded_query() -> None:
    pairs = [("name", "A b*~"), ("meetingID", "m1"), ("checksum", "x"), ("name", "ignored")]
    assert checksum.form_query(pairs) == "meetingID=m1&name=A+b*%7E"
    digest = checksum.compute("create", "meetingID=m1&name=A+b*%7E", SECRET, "sha256")
    signed = [("name", "A b*~"), ("meetingID", "m1"), ("checksum", digest)]
    assert checksum.verify_form("create", signed, SECRET)
    assert not checksum.verify_form("create", signed[:2], SECRET)
    assert not checksum.verify_form("end", signed, SECRET)
