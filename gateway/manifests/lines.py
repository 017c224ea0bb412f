"""Split a text stream into physical lines a chunk at a time, never holding an overlong line.

An overlong line (`limit` characters or more, its end aside) is read past without being held,
replaced by an empty line, and its number noted. Lines keep their ends (`\\n`, `\\r\\n` or
`\\r`, as a reader opened with newline='' splits them), so the csv module keeps a newline inside
a quoted field. Lines come in lists, one per chunk read: csv.reader pulls them through
itertools.chain without a Python call per line.
"""

import io
import re
from collections import deque
from collections.abc import Iterator

TEXT_CHUNK = 1 << 20  # characters read at a time
LINE = re.compile(r"[^\r\n]*(?:\r\n?|\n)")
# str.splitlines also ends lines at these; a CSV reader opened with newline='' does not
OTHER_ENDS = ("\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029")


def chunked_lines(
    text: io.TextIOBase, limit: int, overlong: deque[int], size: int = TEXT_CHUNK
) -> Iterator[list[str]]:
    """Yield lists of lines; one of `limit` characters or more (its end aside) becomes "\n"."""
    number, carry = 0, ""
    while True:
        chunk = text.read(size)
        data = carry + chunk
        end = _last_end(data, final=not chunk)
        lines = _split(data[:end])
        carry = data[end:]
        if not chunk and carry:  # the last line, without its end
            lines.append(carry)
        if lines and len(max(lines, key=len)) > limit - 1:
            for i, line in enumerate(lines):
                if len(line.rstrip("\r\n")) >= limit:
                    overlong.append(number + i + 1)
                    lines[i] = "\n"
        number += len(lines)
        if lines:
            yield lines
        if not chunk:
            return
        if len(carry) - carry.endswith("\r") >= limit:  # read past the rest, never holding it
            number += 1
            overlong.append(number)
            yield ["\n"]
            carry = _skip_line(text, size, ended=carry.endswith("\r"))


def _split(data: str) -> list[str]:
    """Split complete lines at \\n, \\r\\n and \\r only (str.splitlines when that is the same)."""
    if any(end in data for end in OTHER_ENDS):
        return LINE.findall(data)
    return data.splitlines(keepends=True)


def _last_end(data: str, final: bool) -> int:
    """Return where the last complete line ends (unless final, a last \r may be half of \r\n)."""
    end = max(data.rfind("\n"), data.rfind("\r")) + 1
    if not final and end == len(data) and data.endswith("\r"):
        end = max(data.rfind("\n", 0, end - 1), data.rfind("\r", 0, end - 1)) + 1
    return end


def _skip_line(text: io.TextIOBase, size: int, ended: bool) -> str:
    """Read past the rest of a line; return what follows its end in the last chunk read."""
    if ended:  # its CR is read: only an LF after it may be left
        return text.read(size).removeprefix("\n")
    while chunk := text.read(size):
        ends = [i for i in (chunk.find("\n"), chunk.find("\r")) if i >= 0]
        if not ends:
            continue
        at = min(ends)
        rest = chunk[at + 1 :]
        if chunk[at] == "\r":
            rest = (rest or text.read(size)).removeprefix("\n")
        return rest
    return ""
