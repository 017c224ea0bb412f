"""Random bytes into every parser and framer: only FrameError escapes, and garbage is no weight."""

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from dockscan.errors import FrameError
from edge.devices.capture import CaptureRules, StableCapture
from edge.devices.protocols import PROTOCOLS, Reading, get_protocol
from edge.devices.scanner import split_aim
from tests.data.scale_vectors import VECTORS

DIGITS = set(b"0123456789")
no_digit_bytes = st.binary(max_size=300).map(lambda b: bytes(x for x in b if x not in DIGITS))
protocols = st.sampled_from(sorted(PROTOCOLS))
# Independent full-frame patterns: a weight may only come from a frame that looks like this.
STRICT = {
    "mt-sics": rb"S [SD] +[-+]?\d*\.?\d+ +[A-Za-z]+\r\n",
    "toledo-8217": rb"\x02 *\d+\.\d{2,3}N?\r",
    "toledo-continuous": rb"\x02[\x00-\xff]{3}\d{12}\r[\x00-\xff]",
    "cas": rb"(ST|US),(GS|NT),([\x00-\xff]{2},)?[-+]?[ \d.]+ ?[A-Za-z]+\r\n",
    "sma": rb"\n[ ZOU]\d[GNTgnt][ M][\x00-\xff] *[-+]?\d*\.?\d+[A-Za-z ]{3}\r",
    "nci": rb"\n-?[\d.]+ ?[A-Za-z]+\r\nS?[\x30-\x7f]{2,3}\r\x03",
}


def parse_all(protocol: str, data: bytes) -> list[Reading]:
    """Frame and parse a byte stream the way the driver does; return the readings."""
    proto = get_protocol(protocol)
    out = []
    for frame in proto.framer().feed(data):
        try:
            parsed = proto.parse(frame)
        except FrameError:
            continue
        if isinstance(parsed, Reading):
            out.append(parsed)
    return out


@settings(max_examples=400, deadline=None)
@given(protocol=protocols, data=st.binary(max_size=120))
def test_parse_raises_only_frame_error(protocol: str, data: bytes) -> None:
    proto = get_protocol(protocol)
    try:
        parsed = proto.parse(data)
    except FrameError:
        return
    if isinstance(parsed, Reading) and parsed.value is not None:
        assert re.fullmatch(STRICT[protocol], data), data
        assert isinstance(parsed.kg, float)


@settings(max_examples=300, deadline=None)
@given(protocol=protocols, data=st.binary(max_size=400), cuts=st.lists(st.integers(1, 50)))
def test_framers_take_any_chunking(protocol: str, data: bytes, cuts: list[int]) -> None:
    framer = get_protocol(protocol).framer()
    pos, frames = 0, []
    for cut in [*cuts, len(data)]:
        frames += framer.feed(data[pos : pos + cut])
        pos += cut
    frames += framer.feed(data[pos:])
    assert sum(map(len, frames)) + framer.dropped <= len(data)
    assert all(len(f) <= 4096 for f in frames)


@settings(max_examples=300, deadline=None)
@given(protocol=protocols, junk=st.lists(no_digit_bytes, max_size=6))
def test_garbage_never_becomes_a_weight_or_a_capture(protocol: str, junk: list[bytes]) -> None:
    readings = parse_all(protocol, b"".join(junk))
    assert all(r.value is None for r in readings)
    capture = StableCapture(CaptureRules(settle_s=0.0))
    assert all(capture.feed(i, r) is None for i, r in enumerate(readings * 5))


@settings(max_examples=300, deadline=None)
@given(protocol=protocols, junk=st.lists(no_digit_bytes, min_size=1, max_size=6))
def test_garbage_between_frames_adds_no_weights(protocol: str, junk: list[bytes]) -> None:
    frames = [v.frame for v in VECTORS if v.protocol == protocol]
    stream = b"".join(j + f for j, f in zip(junk, frames * 6, strict=False))
    values = {r.value for r in parse_all(protocol, stream)} - {None}
    sent = {r.value for r in parse_all(protocol, b"".join(frames))} - {None}
    assert values <= sent


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=40))
def test_scanner_prefix_split_never_loses_text(text: str) -> None:
    symbology, rest = split_aim(text)
    if symbology == "unknown":
        assert rest == text
    else:
        assert text == text[:3] + rest and text.startswith("]")
