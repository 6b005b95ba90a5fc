"""The real command line, run in subprocesses."""

import asyncio
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import b3scale
from b3scale.store.db import Database
from b3scale.store.migrate import load_migrations, migrate
from tests.support.process import Serve, run_b3scale


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """A data dir the postgres user can reach (not pytest's 0700 tmp_path)."""
    path = Path(tempfile.mkdtemp(prefix="b3scale-test-data-", dir="/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_version() -> None:
    result = run_b3scale("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"b3scale, version {b3scale.__version__}"


def test_help_lists_the_subcommands() -> None:
    result = run_b3scale("--help")
    assert result.returncode == 0
    for command in ("serve", "noded", "ctl", "db"):
        assert f"  {command} " in result.stdout


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("B3SCALE_DB_POOL_SIZE", "abc"),
        ("B3SCALE_LOG_LEVEL", "loud"),
        ("B3SCALE_LISTEN_HTTP", "127.0.0.1"),
    ],
)
def test_bad_configuration_exits_2_with_one_line(variable: str, value: str) -> None:
    result = run_b3scale("serve", **{variable: value})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert variable in lines[0] and value in lines[0]
    assert "Traceback" not in result.stderr


def test_missing_postgresql_binaries_exit_2_with_advice(data_dir: Path) -> None:
    result = run_b3scale(
        "serve", B3SCALE_DATA_DIR=str(data_dir), B3SCALE_PG_BINDIR="/nonexistent/bin"
    )
    assert result.returncode == 2
    assert "install PostgreSQL" in result.stderr and "B3SCALE_DB_URL" in result.stderr
    assert "Traceback" not in result.stderr


def postmaster_running(data: Path) -> bool:
    # "--" ends pgrep's options (the pattern starts with "-"); 0 found, 1 none, else an error.
    found = subprocess.run(["pgrep", "-f", "--", f"-D {data}"], capture_output=True, check=False)
    assert found.returncode in (0, 1), found.stderr
    pid_file = data / "pgdata" / "postmaster.pid"
    return found.returncode == 0 or pid_file.exists()


async def _query(dsn: str, sql: str) -> object:
    db = await Database.connect(dsn, 1)
    try:
        return await db.fetch_value(sql)
    finally:
        await db.close()


def test_serve_uses_an_embedded_database_that_survives_restarts(data_dir: Path) -> None:
    socket_dsn = f"host={data_dir / 'run'} port=5432 user=postgres dbname=b3scale"
    with Serve(B3SCALE_DATA_DIR=str(data_dir)) as first:
        assert first.wait_healthy(timeout=20) < 20
        asyncio.run(
            _query(
                socket_dsn, "INSERT INTO frontends (key, secret) VALUES ('kept', 's') RETURNING 1"
            )
        )
        assert first.stop() == 0
        assert "embedded PostgreSQL" in first.output
    assert not postmaster_running(data_dir)

    with Serve(B3SCALE_DATA_DIR=str(data_dir)) as second:
        second.wait_healthy(timeout=20)
        keys = asyncio.run(_query(socket_dsn, "SELECT string_agg(key, ',') FROM frontends"))
        assert keys == "kept"
        assert "applying migration" not in second.output
        assert second.stop() == 0
    assert not postmaster_running(data_dir)


def test_two_instances_on_one_empty_database_migrate_once(empty_db_url: str) -> None:
    with Serve(B3SCALE_DB_URL=empty_db_url) as a, Serve(B3SCALE_DB_URL=empty_db_url) as b:
        a.wait_healthy()
        b.wait_healthy()
        assert a.stop() == 0 and b.stop() == 0
        outputs = [a.output, b.output]
    rows = asyncio.run(_query(empty_db_url, "SELECT count(*) FROM schema_migrations"))
    assert rows == len(load_migrations())
    migrated = [out for out in outputs if "applying migration" in out]
    assert len(migrated) == 1


def test_db_status_and_migrate(empty_db_url: str) -> None:
    before = run_b3scale("db", "status", B3SCALE_DB_URL=empty_db_url)
    assert before.returncode == 1
    assert "pending  0001_initial" in before.stdout
    applied = run_b3scale("db", "migrate", B3SCALE_DB_URL=empty_db_url)
    assert applied.returncode == 0, applied.stderr
    assert "applied  0001_initial" in applied.stdout
    after = run_b3scale("db", "status", B3SCALE_DB_URL=empty_db_url)
    assert after.returncode == 0
    assert "applied  0001_initial" in after.stdout and "pending" not in after.stdout


def test_serve_refuses_a_newer_schema(empty_db_url: str) -> None:
    async def prepare() -> None:
        db = await Database.connect(empty_db_url, 1)
        try:
            await migrate(db)
            await db.execute("INSERT INTO schema_migrations (version, name) VALUES (999, 'x')")
        finally:
            await db.close()

    asyncio.run(prepare())
    result = run_b3scale("serve", B3SCALE_DB_URL=empty_db_url, B3SCALE_LOG_LEVEL="error")
    assert result.returncode == 2
    assert "newer than this b3scale" in result.stderr
    assert "Traceback" not in result.stderr


def test_unreachable_database_exits_1_without_password() -> None:
    result = run_b3scale(
        "serve",
        B3SCALE_DB_URL="postgres://u:hunter2@127.0.0.1:1/x?connect_timeout=2",
        B3SCALE_LOG_LEVEL="error",
    )
    assert result.returncode == 1
    assert "cannot connect to the database" in result.stderr
    assert "hunter2" not in result.stderr and "Traceback" not in result.stderr
