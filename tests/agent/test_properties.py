from pathlib import Path

import pytest

from b3scale.agent.properties import (
    PropertiesError,
    parse_properties,
    read_node_settings,
    resolve,
)

PACKAGED = """\
# bbb-web defaults
bigbluebutton.web.serverURL=http://bbb.example.net
server.domain = bbb.example.net
securitySalt=packaged-secret
defaultHTML5ClientUrl=${bigbluebutton.web.serverURL}/html5client/join
both=${server.domain}:${redisPort}
redisHost=127.0.0.1
redisPort=6379
! another comment style
long.value=first \\
    second
loop=${loop}
missing.ref=${nope}/x
"""


def test_parse_and_references() -> None:
    values = parse_properties(PACKAGED)
    assert values["server.domain"] == "bbb.example.net"
    assert values["long.value"] == "first second"
    assert resolve(values, "defaultHTML5ClientUrl") == "http://bbb.example.net/html5client/join"
    assert resolve(values, "both") == "bbb.example.net:6379"  # two references in one value
    assert resolve(values, "loop") == "${loop}"
    assert resolve(values, "missing.ref") == "${nope}/x"
    assert "! another comment style" not in values


def test_the_override_file_wins(tmp_path: Path) -> None:
    packaged = tmp_path / "bigbluebutton.properties"
    packaged.write_text(PACKAGED)
    override = tmp_path / "bbb-web.properties"
    override.write_text(
        "securitySalt=live-secret\nbigbluebutton.web.serverURL=https://${server.domain}\n"
        "redisPassword=pw\n"
    )
    settings = read_node_settings([str(packaged), str(override)])
    assert settings.secret == "live-secret"
    assert settings.server_url == "https://bbb.example.net"
    assert settings.redis_url == "redis://:pw@127.0.0.1:6379/0"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("securitySalt=x\n", "bigbluebutton.web.serverURL is missing"),
        ("bigbluebutton.web.serverURL=https://x\n", "securitySalt is missing"),
        ("bigbluebutton.web.serverURL=https://x\nsecuritySalt=\n", "securitySalt is missing"),
        (
            "bigbluebutton.web.serverURL=https://x\nsecuritySalt=s\nredisPort=abc\n",
            "redisPort is not a number",
        ),
    ],
)
def test_missing_keys_name_the_key_and_file(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "p.properties"
    path.write_text(text)
    with pytest.raises(PropertiesError, match=message) as caught:
        read_node_settings([str(path)])
    assert str(path) in str(caught.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PropertiesError, match="not found"):
        read_node_settings([str(tmp_path / "nope.properties")])


def test_defaults(tmp_path: Path) -> None:
    path = tmp_path / "p.properties"
    path.write_text("bigbluebutton.web.serverURL=https://x\nsecuritySalt=s\n")
    settings = read_node_settings([str(path)])
    assert settings.redis_url == "redis://127.0.0.1:6379/0"
