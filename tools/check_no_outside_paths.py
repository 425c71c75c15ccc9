"""Fail when a file under src/, tests/, tools/ or bench/ refers to a path outside the repository.

A fresh clone in an empty folder must run: nothing may read a sibling checkout
or a machine's own directories. Each line of each text file is checked for

- a parent-directory step: a dot-dot followed by a slash or backslash, or a
  quoted dot-dot (``Path("..")``);
- a machine's absolute directories: the usual home, root, work and mount roots
  (``/home``, ``/Users``, ``/root``, ``/work``, ``/mnt``, ``/media``), ``~/`` and
  ``Path.home()``, a Windows user profile;
- ``Path(__file__)`` (or ``os.path.dirname`` of ``__file__``) walked above the
  repository root with ``.parents[N]`` / ``.parent`` for the file's own depth;
- ``.parent`` / ``.parents[N]`` taken of a variable named ``*root*`` (the root's
  parent is outside by definition).

Scratch paths (``/tmp``) and the container's own paths (``/app``) are not
dependencies on anything beside the checkout and are not reported. A line that
must keep such a text (a sample in the guard's own tests) ends with the marker
``outside-path-ok``.

Files are those git knows (tracked, or untracked and not ignored); outside a git
checkout every file under the four directories. This file is not checked: it
spells the patterns out. Exit status 1 lists each hit as ``path:line: reason``.

    python3 tools/check_no_outside_paths.py [--root DIR]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

DIRS = ("src", "tests", "tools", "bench")
ALLOW_MARKER = "outside-path-ok"
SELF = Path("tools/check_no_outside_paths.py")
SKIP_PARTS = {"__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache", "node_modules"}

_PARENT_STEP = re.compile(r"""(?<![\w.])\.\.[/\\]|(?<=["'])\.\.(?=["'])""")
_MACHINE_DIR = re.compile(
    r"(?<![\w.:/-])/(?:home|Users|root|work|mnt|media)(?![\w.-])"
    r"|(?<![\w~])~[/\\]"
    r"|\bPath\.home\(\)"
    r"|\b[A-Za-z]:\\+Users\b"
)
# Path(__file__)[.resolve()|.absolute()] then a chain of .parent / .parents[N]
_FILE_WALK = re.compile(
    r"__file__\s*\)(?:\s*\.\s*(?:resolve|absolute)\(\s*\))*"
    r"(?P<chain>(?:\s*\.\s*(?:parents\s*\[\s*-?\d+\s*\]|parent(?![\w\[])))+)"
)
_CHAIN_STEP = re.compile(r"parents\s*\[\s*(-?\d+)\s*\]|parent")
# os.path.dirname(os.path.dirname(... __file__ ...))
_DIRNAME_WALK = re.compile(
    r"(?P<dirnames>(?:(?:os\.path\.)?dirname\(\s*)+)"
    r"(?:(?:os\.path\.)?(?:abspath|realpath)\(\s*)?__file__"
)
_ROOT_PARENT = re.compile(r"\b\w*root\w*\s*\.\s*parents?\b", re.IGNORECASE)


def _levels(chain: str) -> list[int]:
    """parents[] index after each step of ``chain`` (-1 is the file itself)."""
    level, out = -1, []
    for step in _CHAIN_STEP.finditer(chain):
        if step.group(1) is None:
            level += 1
        else:
            n = int(step.group(1))
            level = -(10**6) if n < 0 else level + n + 1  # parents[-k]: the filesystem's top
        out.append(level)
    return out


def problems(rel: Path, text: str) -> Iterator[tuple[int, str]]:
    """(line number, reason) for each outside reference in the file at ``rel`` (from the root)."""
    top = len(rel.parts) - 1  # Path(__file__).parents[top] is the repository root
    for number, line in enumerate(text.splitlines(), start=1):
        if ALLOW_MARKER in line:
            continue
        if _PARENT_STEP.search(line):
            yield number, "parent-directory step (..)"
        if m := _MACHINE_DIR.search(line):
            yield number, f"machine-specific absolute path ({m.group(0)})"
        for m in _FILE_WALK.finditer(line):
            levels = _levels(m.group("chain"))
            if any(level > top or level < -1 for level in levels):
                yield number, f"__file__ walked above the repository root (root is parents[{top}])"
        for m in _DIRNAME_WALK.finditer(line):
            if m.group("dirnames").count("dirname") - 1 > top:
                yield number, f"__file__ walked above the repository root (root is parents[{top}])"
        if m := _ROOT_PARENT.search(line):
            yield number, f"parent of the repository root ({m.group(0)})"


def files(root: Path) -> list[Path]:
    """Relative paths to check: what git knows under DIRS, else every file under them."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", *DIRS],
            cwd=root,
            capture_output=True,
            check=True,
        ).stdout.decode("utf-8")
        candidates = sorted({Path(p) for p in listed.split("\0") if p})
    except (OSError, subprocess.CalledProcessError):
        candidates = sorted(
            p.relative_to(root) for d in DIRS if (root / d).is_dir() for p in (root / d).rglob("*")
        )
    return [
        p
        for p in candidates
        if p != SELF and (root / p).is_file() and not SKIP_PARTS & set(p.parts)
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1])
    root = parser.parse_args(argv).root.resolve()
    checked, hits = 0, []
    for rel in files(root):
        try:
            text = (root / rel).read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue  # binary
        checked += 1
        hits.extend(f"{rel}:{number}: {reason}" for number, reason in problems(rel, text))
    if hits:
        print("\n".join(hits))
        print(f"{len(hits)} reference(s) to paths outside the repository", file=sys.stderr)
        return 1
    print(f"no paths outside the repository in {checked} files under {', '.join(DIRS)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
