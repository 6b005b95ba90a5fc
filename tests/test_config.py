from pathlib import Path

import pytest

from b3scale.config import Config, ConfigError, load_config, read_env_file


def test_defaults_match_the_seed_readme() -> None:
    config = load_config({"HOME": "/home/x"}, env_files=())
    assert (config.listen_host, config.listen_port) == ("127.0.0.1", 42353)
    assert config.db_url is None
    assert config.db_pool_size == 10
    assert config.reverse_proxy_mode is False
    assert config.log_level == 1
    assert config.log_format == "structured"
    assert config.api_jwt_secret is None
    assert config.load_factor == 1.0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("trace", -1),
        ("DEBUG", 0),
        ("info", 1),
        ("warn", 2),
        ("error", 3),
        ("fatal", 4),
        ("panic", 5),
        ("-1", -1),
        ("0", 0),
        ("5", 5),
    ],
)
def test_log_level_by_name_or_number(value: str, expected: int) -> None:
    assert load_config({"B3SCALE_LOG_LEVEL": value}, env_files=()).log_level == expected


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("B3SCALE_DB_POOL_SIZE", "abc"),
        ("B3SCALE_DB_POOL_SIZE", "0"),
        ("B3SCALE_LOG_LEVEL", "loud"),
        ("B3SCALE_LOG_LEVEL", "6"),
        ("B3SCALE_LISTEN_HTTP", "localhost"),
        ("B3SCALE_LISTEN_HTTP", "localhost:99999"),
        ("B3SCALE_LOG_FORMAT", "xml"),
        ("B3SCALE_REVERSE_PROXY_MODE", "maybe"),
        ("B3SCALE_LOAD_FACTOR", "-1"),
        ("B3SCALE_LOAD_FACTOR", "nan"),
        ("B3SCALE_EVENT_LOOP", "tokio"),
    ],
)
def test_bad_values_name_variable_value_and_what_is_accepted(variable: str, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config({variable: value}, env_files=())
    message = str(caught.value)
    assert variable in message and repr(value) in message and "expected" in message


@pytest.mark.parametrize(
    ("value", "host", "port"),
    [("0.0.0.0:8080", "0.0.0.0", 8080), (":9000", "", 9000), ("[::1]:42353", "::1", 42353)],
)
def test_listen_address_forms(value: str, host: str, port: int) -> None:
    config = load_config({"B3SCALE_LISTEN_HTTP": value}, env_files=())
    assert (config.listen_host, config.listen_port) == (host, port)


@pytest.mark.parametrize("word", ["yes", "YES", "true", "1"])
def test_reverse_proxy_mode_truthy_words(word: str) -> None:
    assert load_config({"B3SCALE_REVERSE_PROXY_MODE": word}, env_files=()).reverse_proxy_mode


def test_empty_jwt_secret_means_no_api() -> None:
    assert load_config({"B3SCALE_API_JWT_SECRET": ""}, env_files=()).api_jwt_secret is None


def test_env_file_fills_in_what_the_environment_lacks(tmp_path: Path) -> None:
    first = tmp_path / "first.env"
    first.write_text(
        "# comment\nB3SCALE_DB_URL = 'postgres://u@h/db'\nB3SCALE_DB_POOL_SIZE=\"7\"\n"
        "export B3SCALE_LOG_FORMAT=plain\n"
    )
    second = tmp_path / "second.env"
    second.write_text("B3SCALE_DB_POOL_SIZE=99\nB3SCALE_LOAD_FACTOR=2.5\n")
    config = load_config(
        {"B3SCALE_LOG_FORMAT": "structured"},
        env_files=(str(first), str(tmp_path / "missing"), str(second)),
    )
    assert config.db_url == "postgres://u@h/db"
    assert config.db_pool_size == 7  # the first file wins
    assert config.load_factor == 2.5
    assert config.log_format == "structured"  # the real environment wins
    assert config.env_files_used == (str(first), str(second))


def test_env_files_are_ignored_when_db_url_is_set(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("B3SCALE_DB_POOL_SIZE=3\n")
    config = load_config({"B3SCALE_DB_URL": "dbname=x"}, env_files=(str(env),))
    assert config.db_pool_size == 10
    assert config.env_files_used == ()


def test_read_env_file_skips_lines_without_equals(tmp_path: Path) -> None:
    env = tmp_path / "e"
    env.write_text("JUNK\nA=1\n\n#B=2\n")
    assert read_env_file(env) == {"A": "1"}


def test_data_dir_from_environment() -> None:
    config = load_config({"B3SCALE_DATA_DIR": "/srv/b3"}, env_files=())
    assert config.data_dir == Path("/srv/b3")


def test_config_is_frozen() -> None:
    config = Config()
    with pytest.raises(AttributeError):
        config.db_pool_size = 3  # type: ignore[misc]
