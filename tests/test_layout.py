"""Imports point one way: cli -> web/agent -> cluster -> store -> bbb (config, logs anywhere)."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "b3scale"
LAYERS = ["cli", "web", "agent", "cluster", "store", "bbb"]


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "b3scale" or len(parts) < 2:
        return None
    return parts[1] if parts[1] in LAYERS else None


def imported_modules(path: Path) -> list[str]:
    """Every absolute module ``path`` imports, in either form (``import x``, ``from x import``)."""
    targets = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            targets.append(node.module)
        elif isinstance(node, ast.Import):
            targets.extend(alias.name for alias in node.names)
    return targets


def test_imports_point_down_the_layers() -> None:
    wrong = []
    for path in PACKAGE.rglob("*.py"):
        here = layer_of("b3scale." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts))
        if here is None:
            continue
        for target in imported_modules(path):
            there = layer_of(target)
            if there is not None and LAYERS.index(there) < LAYERS.index(here):
                wrong.append(f"{path.relative_to(PACKAGE)} imports {target}")
    assert wrong == []


def test_only_the_store_db_module_imports_aiopg() -> None:
    users = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if any(t == "aiopg" or t.startswith("aiopg.") for t in imported_modules(path))
    ]
    assert users == ["store/db.py"]


def test_only_config_reads_the_environment() -> None:
    readers = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if "os.environ" in path.read_text() or "os.getenv" in path.read_text()
    ]
    assert sorted(readers) == ["config.py", "store/embedded.py"]


def test_every_package_folder_is_a_package() -> None:
    """A folder without __init__.py is left out of the wheel and the zipapp."""
    missing = [
        str(folder.relative_to(PACKAGE))
        for folder in [PACKAGE, *PACKAGE.rglob("*")]
        if folder.is_dir() and any(folder.glob("*.py")) and not (folder / "__init__.py").exists()
    ]
    assert missing == []
