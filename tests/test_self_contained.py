"""No tracked file may refer to a path above the repository root (a fresh clone must work)."""

import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MAX_BYTES = 2_000_000

# Built from parts so that this file does not match its own patterns.
_SH = "sha" + "red"
_LIB = "." + "library"
_UP = r"\.\.[/\\]+"
TEXT_PATTERNS = [
    (re.compile(_UP + _SH + r"\b"), "refers to the sibling folder " + "../" + _SH),
    (re.compile(_UP + r"\.library\b"), "refers to the sibling folder ../" + _LIB),
    (re.compile(r"/" + _SH + r"/(bench|docs)\b"), "refers to an outside " + _SH + " folder"),
    (re.compile(r"\b" + _SH + r"/ARCHITECTURE\.md"), "refers to an outside " + _SH + " folder"),
]
PY_PATTERNS = [
    (re.compile(r"""["']""" + _SH + r"""["']\s*/|/\s*["']""" + _SH + r"""["']"""), "joins a path"),
    (re.compile(r"\b(REPO|ROOT|REPO_ROOT)\.(parent\b|parents\[)"), "climbs above the root"),
]
_FILE_CHAIN = re.compile(
    r"__file__\)*(?:\.(?:resolve|absolute)\(\))*(?P<chain>(?:\.parent\b|\.parents\[\d+\])+)"
)


def _levels(chain: str) -> int:
    """Return how many folders up a chain of .parent / .parents[N] goes from a file."""
    steps = chain.count(".parent") - chain.count(".parents[")
    return steps + sum(int(n) + 1 for n in re.findall(r"\.parents\[(\d+)\]", chain))


def offences(rel: str, text: str) -> list[str]:
    """Return 'file:line: reason: text' for each reference above the repository root."""
    found = []
    depth = len(Path(rel).parts)  # a file's own folder is 1 level up, the root `depth` levels
    for number, line in enumerate(text.splitlines(), start=1):
        reasons = [why for pattern, why in TEXT_PATTERNS if pattern.search(line)][:1]
        if rel.endswith(".py"):
            reasons += [why for pattern, why in PY_PATTERNS if pattern.search(line)]
            for match in _FILE_CHAIN.finditer(line):
                if _levels(match["chain"]) > depth:
                    reasons.append(
                        f"__file__ climbs {_levels(match['chain'])} levels from depth {depth}"
                    )
        if reasons:
            found.append(f"{rel}:{number}: {reasons[0]}: {line.strip()[:120]}")
    return found


def tracked_files() -> list[str]:
    """Return the repository's tracked files (git ls-files); fail when git cannot list them."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True, timeout=60
        ).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.fail(f"git ls-files failed in {REPO} ({exc}): run the tests from a git checkout")
    return [name for name in out.decode().split("\0") if name]


def test_no_tracked_file_refers_above_the_repository_root() -> None:
    files = tracked_files()
    assert "tests/test_self_contained.py" in files or len(files) > 50
    found: list[str] = []
    for rel in files:
        path = REPO / rel
        if not path.is_file() or path.stat().st_size > MAX_BYTES:
            continue
        data = path.read_bytes()
        if b"\0" in data[:8192]:
            continue  # binary (photos)
        found += offences(rel, data.decode("utf-8", "replace"))
    assert not found, "tracked files refer to paths outside the repository:\n" + "\n".join(found)


BAD = [
    ("tests/edge/test_x.py", "PHOTOS = Path(__file__).resolve().parents[" + "3] / 'x'"),
    ("tests/edge/test_x.py", "ROOT = Path(__file__).resolve()" + ".parent" * 4),
    ("bench/x.py", "default=str(REPO" + '.parent / "' + _SH + '" / "bench")'),
    ("bench/x.py", "root = base / '" + _SH + "' / 'bench'"),
    ("bench/RESULTS.md", "of the photographs (default `../" + _SH + "/bench/barcodes`)"),
    ("README.md", "See `../" + _SH + "/ARCHITECTURE.md` for the design"),
    ("scripts/x.sh", "cp ../" + _LIB + "/env/x ."),
    ("docs/x.md", "measured on /work/" + _SH + "/docs/performance.md"),
]
GOOD = [
    ("tests/edge/test_x.py", "PHOTOS = Path(__file__).resolve().parents[" + "2] / 'tests'"),
    ("tests/test_x.py", "REPO = Path(__file__).resolve().parent.parent"),
    ("tests/test_x.py", "(tmp_path.parent / 'x').write_text('a')"),
    ("tests/test_x.py", "assert get('/static/../../etc/passwd').status_code == 404"),
    ("gateway/x.py", "shared_group: str = cfg.gateway.shared_group"),
    ("README.md", "topic through an MQTT 5 " + _SH + " subscription"),
]


@pytest.mark.parametrize(("rel", "line"), BAD)
def test_detector_flags_references_above_the_root(rel: str, line: str) -> None:
    assert offences(rel, f"first line\n{line}\n"), line


@pytest.mark.parametrize(("rel", "line"), GOOD)
def test_detector_leaves_paths_inside_the_repository_alone(rel: str, line: str) -> None:
    assert offences(rel, line) == []


def test_this_file_does_not_trip_on_its_own_patterns() -> None:
    rel = Path(__file__).resolve().relative_to(REPO).as_posix()
    assert offences(rel, Path(__file__).read_text(encoding="utf-8")) == []
