"""The package as a user installs it: built into a wheel and an sdist, installed
(non-editable) into a fresh virtual environment outside the clone, run from elsewhere.

The fresh environments reuse the test environment's dependencies (torch and the
rest, through a folder of links that leaves out this package) so that nothing is
downloaded and torch, being the same installation, finds its kernels built.
"""

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import pytest

from deepsets.core import kernels

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "lab.ipynb"
QUICK_SWEEP = ["compare", "--quick", "--tasks", "sum", "--models", "deepsets", "--seeds", "1"]


def run(command, cwd, timeout=300, **env):
    return subprocess.run([str(c) for c in command], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **env})


def tracked_files(root: Path) -> list[str]:
    """What a clone of this checkout holds (tracked, or new and not ignored)."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=root,
                            capture_output=True, text=True, check=True)
    return [name for name in listed.stdout.split("\0") if name and (root / name).is_file()]


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    """The sdist and the wheel, built by ``python -m build`` (the wheel from the sdist) from
    a copy of the checkout, so that nothing is written into it."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs the git checkout to know its files")
    copy, out = tmp_path_factory.mktemp("source"), tmp_path_factory.mktemp("dist")
    for name in tracked_files(ROOT):
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, copy / name)
    built = run([sys.executable, "-m", "build", "--no-isolation", "--outdir", out, copy], ROOT)
    assert built.returncode == 0, built.stdout + built.stderr
    (sdist,), (wheel,) = out.glob("*.tar.gz"), out.glob("*.whl")
    return sdist, wheel


@pytest.fixture(scope="module")
def dependencies(tmp_path_factory):
    """A folder of links to every installed distribution except this package."""
    folder = tmp_path_factory.mktemp("dependencies")
    for site in dict.fromkeys([sysconfig.get_path("purelib"), sysconfig.get_path("platlib")]):
        for entry in Path(site).iterdir():
            if entry.name.split("-")[0].split(".")[0] not in ("deepsets", "__editable__"):
                (folder / entry.name).symlink_to(entry)
    return folder


def fresh_venv(path: Path, dependencies: Path, wheel: Path | None = None) -> Path:
    """A new virtual environment at ``path`` that sees ``dependencies``, with ``wheel``
    installed by pip when given; returns its bin folder."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", path], check=True)
    site = Path(run([path / "bin" / "python", "-c",
                     "import sysconfig; print(sysconfig.get_path('purelib'))"], path
                    ).stdout.strip())
    (site / "dependencies.pth").write_text(f"{dependencies}\n")
    if wheel is not None:
        done = run([sys.executable, "-m", "pip", "--python", path / "bin" / "python",
                    "install", "--quiet", "--no-deps", "--no-index", wheel], path)
        assert done.returncode == 0, done.stderr
    return path / "bin"


@pytest.fixture(scope="module")
def installed(tmp_path_factory, dist, dependencies):
    return fresh_venv(tmp_path_factory.mktemp("wheel") / "venv", dependencies, dist[1])


@pytest.fixture
def elsewhere(tmp_path):
    """A working folder that is not the clone."""
    folder = tmp_path / "work"
    folder.mkdir()
    return folder


def test_the_wheel_and_the_sdist_ship_every_file_of_the_package(dist):
    sdist, wheel = dist
    package = sorted(name.removeprefix("src/") for name in tracked_files(ROOT)
                     if name.startswith("src/deepsets/"))
    assert "deepsets/core/kernels.cpp" in package
    in_wheel = sorted(n for n in zipfile.ZipFile(wheel).namelist() if n.startswith("deepsets/"))
    assert in_wheel == package
    top = sdist.name.removesuffix(".tar.gz")
    with tarfile.open(sdist) as archive:
        in_sdist = sorted(n.removeprefix(f"{top}/src/") for n in archive.getnames()
                          if n.startswith(f"{top}/src/deepsets/") and archive.getmember(n).isfile())
    assert in_sdist == package


def test_the_installed_package_runs_the_lab_and_a_sweep_from_elsewhere(installed, elsewhere):
    where = run([installed / "python", "-c", "import deepsets; print(deepsets.__file__)"],
                elsewhere)
    assert Path(where.stdout.strip()).is_relative_to(installed.parent), where
    status = run([installed / "python", "-c",
                  "from deepsets.core import kernels; print(kernels.status())"], elsewhere)
    assert status.returncode == 0, status.stderr
    expected = kernels.status().split(" (")[0]  # compiled where this machine compiles them
    assert status.stdout.startswith(expected), (status.stdout, expected)
    lab = run([installed / "deepsets", "lab", "--quick", "--out", "run"], elsewhere)
    assert lab.returncode == 0, lab.stderr
    assert f"{expected} (" in lab.stderr  # it says which kernels it trains through
    assert json.loads((elsewhere / "run" / "results.json").read_text())["cards"]
    sweep = run([installed / "deepsets", *QUICK_SWEEP, "--out", "sweep"], elsewhere)
    assert sweep.returncode == 0, sweep.stderr
    assert "1 runs, 0 failed" in sweep.stdout
    assert (elsewhere / "sweep" / "results.csv").exists()


def test_without_its_kernel_source_it_falls_back_to_the_same_numbers(
        tmp_path, dist, dependencies, installed, elsewhere):
    hidden = fresh_venv(tmp_path / "venv", dependencies, dist[1])
    source = Path(run([hidden / "python", "-c", "from deepsets.core import kernels; "
                       "print(kernels.SOURCE)"], elsewhere).stdout.strip())
    assert source.is_relative_to(hidden.parent)
    source.unlink()
    lab = run([hidden / "deepsets", "lab", "--quick", "--out", "hidden"], elsewhere)
    assert lab.returncode == 0, lab.stderr
    assert (f"deepsets training kernels: PyTorch's kernels (the compiled ones' source cannot "
            f"be read: [Errno 2] No such file or directory: '{source}')") in lab.stderr
    off = run([installed / "deepsets", "lab", "--quick", "--out", "off"], elsewhere,
              DEEPSETS_KERNELS="off")
    assert off.returncode == 0, off.stderr
    assert "deepsets training kernels: PyTorch's kernels (DEEPSETS_KERNELS=off)" in off.stderr
    assert (elsewhere / "hidden" / "results.json").read_bytes() == \
        (elsewhere / "off" / "results.json").read_bytes()


def test_the_notebooks_first_cell_installs_the_package_where_it_is_missing(
        tmp_path, dist, dependencies, elsewhere):
    bare = fresh_venv(tmp_path / "venv", dependencies)
    missing = run([bare / "python", "-c", "import deepsets"], elsewhere)
    assert "No module named 'deepsets'" in missing.stderr
    first = next(c for c in json.loads(NOTEBOOK.read_text())["cells"] if c["cell_type"] == "code")
    check = "\nprint(deepsets.__file__)\nfrom deepsets.core import kernels; print(kernels.status())"
    done = run([bare / "python", "-c", "".join(first["source"]) + check], elsewhere,
               DEEPSETS_REPOSITORY=str(dist[1]))
    assert done.returncode == 0, done.stderr
    where, status = done.stdout.splitlines()
    assert Path(where).is_relative_to(bare.parent)  # installed there, from the wheel
    assert status.startswith(kernels.status().split(" (")[0])
