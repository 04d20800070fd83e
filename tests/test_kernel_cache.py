"""The kernels' cache: keys, the bounded wait, pruning, and builds killed at any moment.

The unit tests use made-up cache folders and never compile. The two tests that
kill builds compile the kernels once, in a cache of their own.
"""

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from deepsets.core import kernel_cache, kernels

HOLD_LOCK = """
import fcntl, sys, time
lock = open(sys.argv[1], "a")
fcntl.flock(lock, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(120)
"""


@pytest.fixture
def lock_holder():
    """Start a process that holds a lock file until the test ends."""
    started = []

    def hold(path):
        proc = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(path)],
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "held"
        started.append(proc)
        return proc

    yield hold
    for proc in started:
        proc.kill()
        proc.wait()


def test_the_cache_moves_with_deepsets_cache_or_xdg_cache_home(monkeypatch, tmp_path):
    monkeypatch.delenv(kernel_cache.CACHE, raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert kernel_cache.cache_root() == Path.home() / ".cache" / "deepsets"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert kernel_cache.cache_root() == tmp_path / "xdg" / "deepsets"
    monkeypatch.setenv(kernel_cache.CACHE, str(tmp_path / "mine"))
    assert kernel_cache.cache_root() == tmp_path / "mine"


def test_each_torch_installation_source_and_flag_has_its_own_build(monkeypatch):
    key = kernel_cache.build_key("int f();", ["-O3"])
    assert kernel_cache.build_key("int f();", ["-O3"]) == key
    assert kernel_cache.build_key("int g();", ["-O3"]) != key
    assert kernel_cache.build_key("int f();", ["-O2"]) != key
    monkeypatch.setattr(kernel_cache, "torch_installation", lambda: "/elsewhere/torch")
    assert kernel_cache.build_key("int f();", ["-O3"]) != key


def fake_build(root, name, **record):
    folder = root / name
    folder.mkdir(parents=True)
    if record:
        (folder / kernel_cache.RECORD).write_text(json.dumps(record))
    return folder


def test_a_build_removes_what_it_supersedes_and_nothing_in_use(tmp_path, lock_holder):
    root = tmp_path / "cache"
    mine = kernel_cache.target()
    other_torch = tmp_path / "another-venv" / "torch"
    other_torch.mkdir(parents=True)
    current = fake_build(root, "kernels-current", **mine)
    (root / "kernels-current.lock").touch()
    keep = [
        current,
        root / "kernels-current.lock",  # the caller holds it
        fake_build(root, "kernels-otherenv", **{**mine, "torch": str(other_torch)}),
        fake_build(root, "kernels-othercpu", **{**mine, "cpu": "another cpu"}),
        fake_build(root, "kernels-live.build-1"),  # its builder is alive: the lock below
        root / "kernels-live.lock",
    ]
    lock_holder(root / "kernels-live.lock")
    gone = [
        fake_build(root, "kernels-oldsource", **mine),  # same torch and CPU: superseded
        fake_build(root, "kernels-nomoretorch", **{**mine, "torch": str(tmp_path / "gone")}),
        root / "kernels-oldlayout",
        fake_build(root, "kernels-dead.build-2"),  # a build that was killed
        fake_build(root, "kernels-current.build-3"),  # the same, of the current key
        fake_build(root, "kernels-x.trash-4"),  # a removal that was cut off
        root / "kernels-dead.lock",
        root / "kernels-lonely.lock",
    ]
    (root / "kernels-oldlayout").mkdir()
    (root / "kernels-oldlayout" / "deepsets_kernels.so").touch()
    (root / "kernels-dead.lock").touch()
    (root / "kernels-lonely.lock").touch()
    (root / "not-ours").mkdir()
    removed = kernel_cache.prune(root, current)
    assert sorted(removed) == sorted(gone)
    assert all(path.exists() for path in keep)
    assert not any(path.exists() for path in gone)
    assert sorted(p.name for p in root.iterdir()) == sorted([*(p.name for p in keep),
                                                              "not-ours"])


def test_a_run_waiting_for_another_build_says_so_once_and_gives_up_in_time(
        tmp_path, lock_holder, caplog):
    source = tmp_path / "kernels.cpp"
    source.write_text("// never compiled: the lock is held throughout\n")
    root = tmp_path / "cache"
    root.mkdir()
    folder = root / f"kernels-{kernel_cache.build_key(source.read_text(), [])}"
    lock_holder(f"{folder}.lock")
    began = time.monotonic()
    with caplog.at_level(logging.WARNING), pytest.raises(kernel_cache.Unavailable) as err:
        kernel_cache.load_or_build("nothing", source, [], wait=1, root=root)
    assert 1 <= time.monotonic() - began < 5
    assert str(err.value) == "another process was still building the compiled ones after 1 s"
    waits = [r.message for r in caplog.records if "waiting for another process" in r.message]
    assert len(waits) == 1 and str(folder) in waits[0]
    assert not list(root.glob("*.build-*"))  # it never started a build of its own


def run_python(code, **env):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=300)


def test_a_missing_or_unreadable_source_falls_back_with_the_one_line(tmp_path):
    folder = tmp_path / "kernels.cpp"
    folder.mkdir()  # a source that is there but cannot be read
    for source in (tmp_path / "missing.cpp", folder):
        done = run_python(f"""
from pathlib import Path
from deepsets.core import kernels
kernels.SOURCE = Path({str(source)!r})
print(kernels.load())
print(kernels.status())
""", DEEPSETS_CACHE=str(tmp_path / "cache"))
        assert done.returncode == 0, done.stderr
        module, status = done.stdout.splitlines()
        assert module == "None"
        assert status.startswith("deepsets training kernels: PyTorch's kernels (the compiled "
                                 "ones' source cannot be read: [Errno")
        assert str(source) in status
        warnings = [line for line in done.stderr.splitlines() if "training goes through" in line]
        assert len(warnings) == 1
    assert not (tmp_path / "cache").exists()  # nothing was written for it


def test_a_bad_wait_setting_falls_back_and_names_it():
    done = run_python("from deepsets.core import kernels; print(kernels.status())",
                      DEEPSETS_KERNELS_WAIT="soon")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ("deepsets training kernels: PyTorch's kernels "
                                   "(DEEPSETS_KERNELS_WAIT='soon' is not a number of seconds)")


# --- killed builds (these compile the kernels) ---

needs_compiled = pytest.mark.skipif(kernels.load() is None, reason=kernels.status())
LOAD = "from deepsets.core import kernels; print(kernels.status())"


def start_build(python, cache, *argv):
    """Start ``python`` building the kernels into ``cache`` (``argv``: a command instead of
    loading them), in a session of its own as a terminal's foreground job is."""
    command = [str(python), *(argv or ("-c", LOAD))]
    return subprocess.Popen(command, env={**os.environ, kernel_cache.CACHE: str(cache)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, cwd=cache.parent)


def wait_until_compiling(cache, proc, timeout=120):
    """Until ``proc``'s compiler runs: a new scratch folder holds the build's ninja file."""
    before = set(cache.glob("kernels-*.build-*/build.ninja"))
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if set(cache.glob("kernels-*.build-*/build.ninja")) - before:
            time.sleep(0.5)  # ninja and the compiler are under way
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    raise AssertionError("the build never started")


@pytest.fixture
def other_environment(tmp_path):
    """A second environment: its own torch installation (a copy of this one, hard links
    where the file system allows) and this checkout's package."""
    import torch

    site = tmp_path / "other-env"
    installed = Path(torch.__file__).resolve().parent

    def link_or_copy(src, dst):
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    shutil.copytree(installed, site / "torch", copy_function=link_or_copy, symlinks=True)
    python = tmp_path / "python-other-env"  # this interpreter, finding that torch first
    python.write_text(f"#!/bin/sh\nPYTHONPATH={site} exec {sys.executable} \"$@\"\n")
    python.chmod(0o755)
    return python


@needs_compiled
def test_killed_builds_never_block_and_two_environments_never_rebuild(tmp_path,
                                                                      other_environment):
    cache = tmp_path / "cache"
    cache.mkdir()
    # this environment has built before: its build, from the test session's cache
    source = kernels.SOURCE.read_text()
    mine = kernel_cache.cache_root() / f"kernels-{kernel_cache.build_key(source, kernels.CFLAGS)}"
    shutil.copytree(mine, cache / mine.name)
    # the other environment's first build, cut off three ways
    for sig in (signal.SIGKILL, signal.SIGTERM):
        proc = start_build(other_environment, cache)
        wait_until_compiling(cache, proc)
        os.killpg(proc.pid, sig)
        proc.communicate(timeout=30)
    proc = start_build(other_environment, cache, "-m", "deepsets", "lab", "--quick", "--out",
                       str(tmp_path / "interrupted"))
    wait_until_compiling(cache, proc)
    sent = time.monotonic()
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in a terminal
    _, err = proc.communicate(timeout=30)
    assert time.monotonic() - sent < 3 and proc.returncode == 130, err
    assert "Traceback" not in err and "interrupted" in err.splitlines()[-1]
    left = sorted(p.name for p in cache.iterdir())
    assert sum(".build-" in name for name in left) == 2, left  # SIGINT's was cleared away
    # then the lab: it builds, and finishes
    lab = start_build(other_environment, cache, "-m", "deepsets", "lab", "--quick", "--out",
                      str(tmp_path / "run"))
    out, err = lab.communicate(timeout=400)
    assert lab.returncode == 0, err
    assert "deepsets training kernels: compiled (built in" in err
    assert (tmp_path / "run" / "results.json").exists()
    builds = sorted(cache.iterdir())
    assert len(builds) == 2 and all("." not in p.name for p in builds), builds  # no scratch,
    assert mine.name in {p.name for p in builds}  # no lock left, and this one's build kept
    # the two environments alternate: each finds its own build, nothing is rebuilt
    libraries = {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in cache.glob("*/*.so")}
    for python in (sys.executable, other_environment) * 2:
        done = subprocess.run([str(python), "-c", LOAD], capture_output=True, text=True,
                              env={**os.environ, kernel_cache.CACHE: str(cache)}, timeout=120)
        assert done.stdout.startswith("deepsets training kernels: compiled (cached in"), done
    assert {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in cache.glob("*/*.so")} == \
        libraries
    assert sorted(cache.iterdir()) == builds
