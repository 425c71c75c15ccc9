"""tools/check_no_outside_paths.py: what it reports, what it lets through, and the tree is clean."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "tools" / "check_no_outside_paths.py"


def _guard() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_no_outside_paths", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


guard = _guard()
# The sibling folder's name, assembled so that this file itself names no outside path.
SIBLING = "".join(("sh", "ared"))


def reasons(rel: str, line: str) -> list[str]:
    return [reason for _, reason in guard.problems(Path(rel), line)]


@pytest.mark.parametrize(
    ("rel", "line"),
    [
        ("tests/a/b.py", f'FIX = ROOT / "../{SIBLING}/x.json"'),  # outside-path-ok
        ("tests/a/b.py", f"FIX = REPO_ROOT.parent / '{SIBLING}'"),  # outside-path-ok
        ("tests/a/b.py", 'Path(__file__).parent / ".." / "x"'),  # outside-path-ok
        ("tests/a/b.py", "Path(__file__).resolve().parents[3]"),  # outside-path-ok
        ("tests/a/b.py", "Path(__file__).resolve().parents[-1]"),  # outside-path-ok
        ("tools/x.py", "Path(__file__).resolve().parent.parent.parent"),  # outside-path-ok
        ("tests/a/b.py", "Path(__file__).parents[1].parents[1]"),  # outside-path-ok
        ("tools/x.py", "dirname(dirname(dirname(os.path.abspath(__file__))))"),
        ("src/m.py", f'"""see /work/{SIBLING}/stripe for the examples"""'),  # outside-path-ok
        ("src/m.py", 'CONFIG = "/home/dev/payments.yaml"'),  # outside-path-ok
        ("bench/x.py", "OUT = Path('~/bench.csv').expanduser()"),  # outside-path-ok
        ("bench/x.py", "OUT = Path.home() / 'bench.csv'"),  # outside-path-ok
        ("bench/README.md", r"C:\Users\dev\bench.csv"),  # outside-path-ok
    ],
)
def test_reports_paths_outside_the_repository(rel: str, line: str) -> None:
    assert reasons(rel, line)


@pytest.mark.parametrize(
    ("rel", "line"),
    [
        ("tests/a/b.py", "REPO_ROOT = Path(__file__).resolve().parents[2]"),
        ("tools/x.py", "ROOT = Path(__file__).resolve().parent.parent"),
        ("src/p/a/b/c.py", "checkout = Path(__file__).resolve().parents[4]"),  # outside-path-ok
        ("tools/x.py", "os.path.dirname(os.path.dirname(__file__))"),
        ("tests/a/b.py", 'RECORDED = Path(__file__).with_name("x.json")'),
        ("tests/a/b.py", 'ROOT / "tests" / "fixtures" / "stripe" / "fixtures3.json"'),
        ("src/m.py", "from .. import domain"),
        ("src/m.py", '"outside 0..amount_received"'),
        ("src/m.py", "def f(x: int, *args: Any) -> None: ..."),
        ("tools/x.py", 'PICKLE = Path("/tmp/localstripe.pickle")'),
        ("src/m.py", "an installed package runs from e.g. /app"),
        ("src/m.py", "https://github.com/stripe/openapi/home/root"),
        ("tests/a/b.py", "lines with a marker are skipped: ../x  # outside-path-ok"),
    ],
)
def test_lets_paths_inside_the_repository_through(rel: str, line: str) -> None:
    assert reasons(rel, line) == []


def test_script_fails_on_a_tree_with_an_outside_path(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "ok.py").write_text("X = 1\n", encoding="utf-8")
    bad = f'P = Path(__file__).resolve().parents[1].parent / "{SIBLING}"\n'
    (tmp_path / "tests" / "bad.py").write_text(bad, encoding="utf-8")
    (tmp_path / "tests" / "blob.bin").write_bytes(b"\xff\xfe\x00../")

    run = subprocess.run(
        [sys.executable, str(SCRIPT), "--root", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )

    assert run.returncode == 1
    assert run.stdout.splitlines() == [
        "tests/bad.py:1: __file__ walked above the repository root (root is parents[1])"
    ]


def test_this_tree_has_no_outside_paths() -> None:
    run = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
