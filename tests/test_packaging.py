"""Packaging: the wheel ships every module, and the core import stays free of widget stacks.

The setuptools config maps ``neuraltide.widgets`` to the top-level ``widgets/`` folder with an
explicit ``packages`` list, and a subpackage missing from that list is silently left out of the
wheel (an editable install hides this). So build the real wheel and compare its file list with
the source tree. Not marked slow or ui: it runs in every ``pytest tests`` (about 5 s).
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# source folder -> where its files land in the wheel
MAPPING = {"neuraltide": "neuraltide", "widgets": "neuraltide/widgets"}
# package data declared in pyproject.toml that must ship when present in the tree
DATA_PATTERNS = ("py.typed", "csrc/*.h", "csrc/*.cuh", "csrc/*.cpp", "csrc/*.cu")
IGNORED_DIRS = {"__pycache__", ".ipynb_checkpoints", ".pytest_cache"}
WIDGET_STACKS = ("ipywidgets", "panel", "holoviews", "neuraltide.widgets")


def _source_files(patterns: tuple[str, ...]) -> dict[str, Path]:
    """Wheel path -> source file, for every file matching ``patterns`` in the mapped folders."""
    expected = {}
    for src, dest in MAPPING.items():
        root = REPO / src
        for pattern in patterns:
            for path in root.rglob(pattern):
                rel = path.relative_to(root)
                if path.is_file() and not IGNORED_DIRS.intersection(rel.parts):
                    expected[f"{dest}/{rel.as_posix()}"] = path
    return expected


def _copy_sources(dest: Path) -> None:
    """Copy what the build reads into ``dest``, so it neither writes into nor picks up stale
    ``build/`` or ``*.egg-info`` from the checkout."""
    ignore = shutil.ignore_patterns(*IGNORED_DIRS, "*.pyc", "*.so")
    for name in ("pyproject.toml", "README.md", "LICENSE", "setup.py", "setup.cfg", "MANIFEST.in"):
        if (REPO / name).is_file():
            shutil.copy2(REPO / name, dest / name)
    for name in MAPPING:
        shutil.copytree(REPO / name, dest / name, ignore=ignore)


def _setuptools_is_recent() -> bool:
    if importlib.util.find_spec("setuptools") is None:
        return False
    import setuptools

    return int(setuptools.__version__.split(".")[0]) >= 77


@pytest.fixture(scope="module")
def wheel_files(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    src = tmp_path_factory.mktemp("src")
    out = tmp_path_factory.mktemp("wheel")
    _copy_sources(src)
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(src)]
    # Without isolation (setuptools>=77 comes with the dev extra) the build takes ~3 s and needs
    # no index; otherwise pip fetches the build backend into an isolated env.
    if _setuptools_is_recent():
        cmd.insert(cmd.index("--no-deps"), "--no-build-isolation")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"wheel build failed:\n{proc.stdout}\n{proc.stderr}"
    wheels = list(out.glob("neuraltide-*.whl"))
    assert len(wheels) == 1, f"expected one wheel, got {wheels}"
    with zipfile.ZipFile(wheels[0]) as zf:
        return set(zf.namelist())


def test_wheel_has_the_package_roots(wheel_files: set[str]) -> None:
    for required in (
        "neuraltide/__init__.py",
        "neuraltide/neurons/__init__.py",
        "neuraltide/widgets/__init__.py",
    ):
        assert required in wheel_files


def test_wheel_ships_every_module(wheel_files: set[str]) -> None:
    expected = _source_files(("*.py",))
    assert expected, "no sources found"
    missing = sorted(set(expected) - wheel_files)
    assert not missing, (
        "modules missing from the wheel (is the subpackage listed in [tool.setuptools] "
        f"packages in pyproject.toml?): {missing}"
    )


def test_wheel_ships_package_data(wheel_files: set[str]) -> None:
    missing = sorted(set(_source_files(DATA_PATTERNS)) - wheel_files)
    assert not missing, f"package data missing from the wheel: {missing}"


def test_wheel_has_no_top_level_widgets(wheel_files: set[str]) -> None:
    stray = sorted(f for f in wheel_files if f.startswith("widgets/"))
    assert not stray, f"widgets/ must install as neuraltide.widgets only: {stray}"


def _run_python(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=300
    )


def test_core_import_does_not_load_widget_stacks(tmp_path: Path) -> None:
    code = (
        "import sys, neuraltide\n"
        f"loaded = [m for m in {WIDGET_STACKS!r} if m in sys.modules]\n"
        "print(','.join(loaded))\n"
    )
    proc = _run_python(code, cwd=tmp_path)  # outside the repo: the installed package
    assert proc.returncode == 0, proc.stderr
    loaded = [m for m in proc.stdout.strip().split(",") if m]
    assert not loaded, f"`import neuraltide` imported {loaded}; keep those in neuraltide.widgets"


def test_widgets_import_from_outside_the_repo(tmp_path: Path) -> None:
    pytest.importorskip("ipywidgets")
    proc = _run_python("import neuraltide.widgets as w; print(w.__all__)", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
