"""The wheel installs as an application: only what the companion uses is a dependency, the
stand-in servers' own (jinja2, aiohttp-jinja2, PyJWT) are the `[demo]` extra, and a shop install
without that extra runs everything a shop needs."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

from tests.install.helpers import ENV, ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
# a distribution's name → what the code imports (or names in a database URL)
MODULES = {
    "pillow": "PIL",
    "sqlalchemy": "sqlalchemy",
    "pyjwt": "jwt",
    "aiohttp-jinja2": "aiohttp_jinja2",
}
DEMO_ONLY = {"jinja2", "aiohttp-jinja2", "pyjwt"}


def _name(requirement: str) -> str:
    for stop in "[<>=!~; ":
        requirement = requirement.split(stop)[0]
    return requirement.lower()


def _source() -> str:
    return "\n".join(
        p.read_text(encoding="utf-8")
        for folder in ("companion", "scrapers")
        for p in (ROOT / folder).rglob("*.py")
    )


def test_every_dependency_is_used_by_the_companion_and_none_is_the_demos() -> None:
    names = {_name(r) for r in PYPROJECT["project"]["dependencies"]}
    assert not names & DEMO_ONLY
    source = _source()
    unused = [n for n in names if MODULES.get(n, n.replace("-", "_")) not in source]
    assert unused == []


def test_the_demo_extra_holds_the_stand_ins_dependencies_and_tests_install_it() -> None:
    extras = PYPROJECT["project"]["optional-dependencies"]
    assert {_name(r) for r in extras["demo"]} == DEMO_ONLY
    assert "recore-connector[demo]" in extras["test"]


BLOCK_DEMO = """
import sys
for name in ("jinja2", "aiohttp_jinja2", "jwt"):
    sys.modules[name] = None  # as if the [demo] extra were not installed
from companion.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _without_demo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", BLOCK_DEMO, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=ENV,
        timeout=120,
    )


def test_a_shop_install_without_the_demo_extra_runs_the_companion(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    assert _without_demo("pair", "--data-dir", data).returncode == 0
    home = tmp_path / "home"
    dry = _without_demo("setup", "--dry-run", "--data-dir", data)
    assert dry.returncode == 0 and "NativeMessagingHosts" in dry.stdout
    bundle = _without_demo("support-bundle", "--data-dir", data, "-o", str(tmp_path / "b.zip"))
    assert bundle.returncode == 0, bundle.stderr
    demo = _without_demo("demo", "--data-dir", str(home))
    assert demo.returncode == 1
    assert "recore-connector[demo]" in demo.stderr and "Traceback" not in demo.stderr


def test_the_wheel_carries_the_companion_and_its_migrations(tmp_path: Path) -> None:
    # built from a clean copy of the tracked files: no earlier build's leftovers can fill a gap
    source = tmp_path / "source"
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split("\n")
    for name in filter(None, tracked):
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps"]
        + ["-w", str(tmp_path), str(source)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    [wheel] = tmp_path.glob("recore_connector-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = next(n for n in names if n.endswith("entry_points.txt"))
        assert "recore-connector = companion.cli:main" in archive.read(entry_points).decode()
    # every file of the companion and the scrapers that is not Python code (data they read)
    tracked = subprocess.run(
        ["git", "ls-files", "companion", "scrapers"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    data_files = {name for name in tracked if not name.endswith(".py")}
    assert data_files and data_files <= names, data_files - names
    assert "companion/native_host.py" in names
    assert "companion/setup/targets.py" in names
    assert "companion/db/migrations/env.py" in names
    assert any(n.startswith("companion/db/migrations/versions/0001_") for n in names)
