"""One installable `gapwatch` package: what `pip wheel .` builds, installed as a user would.

The wheel is built from a copy of the source tree (so the build writes nothing into the repo) by
`pip wheel . --no-deps --no-build-isolation` in a fresh venv that sees only the dev venv's
site-packages (setuptools>=77 from the `test` extra: no network). It is installed into another
fresh venv whose dependencies come from the dev venv's site-packages through a `.pth` line,
never from the source tree, and run with its working directory outside the repo.
"""

from __future__ import annotations

import shutil
import site
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("recorder", "replay", "dashboard", "migrations")
SKIP = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", "*.db"
)


def pyproject() -> dict[str, object]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))


def test_every_package_folder_is_listed_in_pyproject() -> None:
    listed = set(pyproject()["tool"]["setuptools"]["packages"])  # type: ignore[index]
    found = {
        "gapwatch." + ".".join(init.parent.relative_to(ROOT).parts)
        for folder in FOLDERS
        for init in (ROOT / folder).rglob("__init__.py")
        if "__pycache__" not in init.parts
    }
    assert found == listed, f"missing from pyproject: {sorted(found - listed)}; " + (
        f"listed without an __init__.py: {sorted(listed - found)}"
    )
    assert not (ROOT / "gapwatch").exists()  # the namespace has no folder (and no __init__.py)


def _dependency_dirs() -> list[str]:
    """The dev interpreter's site-packages, in its import order (never the source tree)."""
    dirs = [p for p in sys.path if p.endswith(("site-packages", "dist-packages"))]
    dirs += [p for p in site.getsitepackages() if p not in dirs]
    # A site-packages folder is never the source tree, even when the venv lives inside the
    # checkout (.ci/run makes .venv there); the dev venv's editable-install .pth files are not
    # processed from a .pth line, so the source folders stay out of reach.
    return [d for d in dirs if Path(d).is_dir()]


def _fresh_venv(path: Path) -> Path:
    """A venv without pip whose only third-party code is the dev venv's, via a .pth line."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    python = path / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(purelib, "gapwatch_test_deps.pth").write_text("\n".join(_dependency_dirs()) + "\n")
    return python


def _run(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(cwd), "LANG": "C.UTF-8"}
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)


@pytest.mark.slow
def test_the_wheel_installs_gapwatch_alone_and_runs_outside_the_repo(tmp_path: Path) -> None:
    assert sysconfig.get_platform()  # a normal CPython, venv available
    source = tmp_path / "src"
    shutil.copytree(ROOT, source, ignore=SKIP)
    builder = _fresh_venv(tmp_path / "build-venv")
    out = tmp_path / "dist"
    wheel_command = [str(builder), "-m", "pip", "wheel", str(source), "--no-deps"]
    wheel_command += ["--no-build-isolation", "--no-index", "-w", str(out)]
    built = _run(wheel_command, cwd=tmp_path)
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    (wheel,) = out.glob("gapwatch-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names if ".dist-info/" not in n}
    assert top == {"gapwatch"}
    assert "gapwatch/__init__.py" not in names  # a namespace: no clash with another gapwatch
    for data in ("recorder/observation.schema.json", "migrations/script.py.mako"):
        assert f"gapwatch/{data}" in names

    python = _fresh_venv(tmp_path / "venv")
    installed = _run(
        [str(python), "-m", "pip", "install", "--no-deps", "--no-index", str(wheel)], tmp_path
    )
    assert installed.returncode == 0, installed.stderr[-2000:]
    work = tmp_path / "elsewhere"
    work.mkdir()
    gapwatch = str(tmp_path / "venv" / "bin" / "gapwatch")
    helped = _run([gapwatch, "--help"], work)
    assert helped.returncode == 0 and "record" in helped.stdout, helped.stderr[-2000:]
    db = work / "store.db"
    upgraded = _run([gapwatch, "db", "upgrade", "--db", f"sqlite:///{db}"], work)
    assert upgraded.returncode == 0, upgraded.stderr[-2000:]
    engine = create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    engine.dispose()
    where = _run([str(python), "-c", "import gapwatch.recorder as r; print(r.__file__)"], work)
    assert where.returncode == 0 and Path(where.stdout.strip()).is_relative_to(tmp_path / "venv")
    for name in FOLDERS:
        bare = _run([str(python), "-c", f"import {name}"], work)
        assert bare.returncode != 0 and "ModuleNotFoundError" in bare.stderr, name


def test_the_readme_installs_users_without_the_test_tools() -> None:
    """README's install for users names extras that exist and that pull in no test tool (the
    issue: the only install shown was `[test]`); the contributors' `[test]` command stays."""
    import re

    readme = (ROOT / "README.md").read_text("utf-8")
    extras: dict[str, list[str]] = pyproject()["project"]["optional-dependencies"]  # type: ignore[index]
    assert ".venv/bin/pip install -e '.[test]' && .venv/bin/gapwatch demo" in readme
    user = re.findall(r"\.venv/bin/pip install '\.\[(\w+)\]' && \.venv/bin/gapwatch demo", readme)
    assert user == ["dashboard"]

    def requirements(extra: str) -> set[str]:
        found: set[str] = set()
        for req in extras[extra]:
            name = re.split(r"[<>=\[;\s]", req, maxsplit=1)[0].lower()
            if name == "gapwatch":  # gapwatch[a,b]: those extras' requirements
                for inner in re.search(r"\[(.*)\]", req).group(1).split(","):  # type: ignore[union-attr]
                    found |= requirements(inner.strip())
            else:
                found.add(name)
        return found

    test_only = {"pytest", "moto", "mypy", "ruff", "playwright", "hypothesis"}
    assert test_only <= requirements("test")
    assert not requirements("dashboard") & test_only
    assert {"streamlit", "plotly", "pandas"} <= requirements("dashboard")
