"""Physical lines read a chunk at a time: the same lines as readline, overlong ones skipped."""

import io
import random
from collections import deque

import pytest

from gateway.manifests.lines import chunked_lines

PIECES = ["a", "b", ",", '"', "é", "\n", "\r", "\r\n", "\x0b", "\x0c", "\x1c", "\x85", "\u2028"]


def reference(text: str, limit: int) -> tuple[list[str], list[int]]:
    """Return the lines readline gives (newline=''), an overlong one as "\\n", and their numbers."""
    stream, lines, overlong = io.StringIO(text, newline=""), [], []
    while line := stream.readline():
        if len(line.rstrip("\r\n")) >= limit:
            overlong.append(len(lines) + 1)
            line = "\n"
        lines.append(line)
    return lines, overlong


def split(text: str, limit: int, size: int) -> tuple[list[str], list[int]]:
    """Return chunked_lines' lines, flattened, and the overlong line numbers."""
    overlong: deque[int] = deque()
    chunks = chunked_lines(io.StringIO(text, newline=""), limit, overlong, size)
    return [line for chunk in chunks for line in chunk], list(overlong)


@pytest.mark.parametrize("seed", range(3))
def test_lines_match_readline_for_any_chunk_size(seed: int) -> None:
    rnd = random.Random(seed)
    for _ in range(1500):
        text = "".join(rnd.choice(PIECES) * rnd.choice([1, 1, 3, 9]) for _ in range(80))
        limit, size = rnd.choice([5, 8, 13, 256]), rnd.choice([1, 2, 3, 7, 16, 4096])
        assert split(text, limit, size) == reference(text, limit), (text, limit, size)


def test_an_overlong_line_is_never_held_whole() -> None:
    class Counting(io.StringIO):
        biggest = 0

        def read(self, size: int | None = -1) -> str:
            got = super().read(size)
            Counting.biggest = max(Counting.biggest, len(got))
            return got

    text = "a,b\n" + "x" * 1_000_000 + "\r\n" + "c,d\n"
    overlong: deque[int] = deque()
    lines = [ln for chunk in chunked_lines(Counting(text), 100, overlong, 1000) for ln in chunk]
    assert lines == ["a,b\n", "\n", "c,d\n"] and list(overlong) == [2]
    assert Counting.biggest == 1000
