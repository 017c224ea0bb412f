"""Scale protocol parsers and framers against the shared vectors (pure, no I/O)."""

import random

import pytest

from dockscan.errors import ConfigError, FrameError
from edge.devices.protocols import PROTOCOLS, Reading, Reply, get_protocol
from edge.devices.protocols.framing import DelimitedFramer, FixedFramer, LineFramer
from tests.data.scale_vectors import BAD_FRAMES, VECTORS, Vector


def check_expectation(parsed: Reading | Reply, vector: Vector) -> None:
    """Assert that a parse result has every field the vector expects."""
    expect = dict(vector.expect)
    if "reply" in expect:
        assert isinstance(parsed, Reply)
        assert (parsed.command, parsed.status) == expect["reply"]
    else:
        assert isinstance(parsed, Reading)
        for name, value in expect.items():
            assert getattr(parsed, name) == value, name
    assert parsed.raw == vector.frame


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v.id)
def test_every_vector_parses(vector: Vector) -> None:
    check_expectation(get_protocol(vector.protocol).parse(vector.frame), vector)


@pytest.mark.parametrize("protocol", sorted(PROTOCOLS))
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_framer_splits_a_stream_cut_anywhere(protocol: str, seed: int) -> None:
    frames = [v.frame for v in VECTORS if v.protocol == protocol]
    stream = b"".join(frames * 3)
    rng = random.Random(seed)
    framer = get_protocol(protocol).framer()
    out: list[bytes] = []
    pos = 0
    while pos < len(stream):
        step = rng.randint(1, 7)
        out += framer.feed(stream[pos : pos + step])
        pos += step
    assert out == frames * 3
    assert framer.dropped == 0


@pytest.mark.parametrize(("protocol", "frame"), BAD_FRAMES, ids=repr)
def test_bad_frames_raise_frame_error(protocol: str, frame: bytes) -> None:
    with pytest.raises(FrameError):
        get_protocol(protocol).parse(frame)


def test_values_are_kept_as_sent_and_normalised_to_kg() -> None:
    nci = get_protocol("nci").parse(b"\n01.250LB\r\nS00\r\x03")
    assert isinstance(nci, Reading)
    assert (nci.value, nci.unit) == ("01.250", "LB")
    assert nci.kg == pytest.approx(1.25 * 0.45359237, abs=1e-12)
    grams = get_protocol("mt-sics").parse(b"S S     100.00 g\r\n")
    assert isinstance(grams, Reading) and grams.kg == pytest.approx(0.1)
    cas = get_protocol("cas").parse(b"ST,GS,+0001.23kg\r\n")
    assert isinstance(cas, Reading) and (cas.value, cas.kg) == ("+0001.23", 1.23)


def test_cas_22_byte_frame_with_device_field() -> None:
    parsed = get_protocol("cas").parse(b"ST,GS,\x011,  12.345 kg\r\n")
    assert isinstance(parsed, Reading)
    assert (parsed.value, parsed.unit, parsed.stable) == ("12.345", "kg", True)


def test_cas_overload_ignores_data() -> None:
    parsed = get_protocol("cas").parse(b"OL,GS,+9999.99kg\r\n")
    assert isinstance(parsed, Reading)
    assert parsed.value is None and parsed.fault == "overload"


def test_toledo_continuous_decimal_positions_sign_and_range() -> None:
    proto = get_protocol("toledo-continuous")
    from edge.devices.protocols.toledo import continuous_checksum

    def frame(swa: int, swb: int, digits: bytes) -> bytes:
        body = b"\x02" + bytes([swa, swb, 0x20]) + digits + b"000000\r"
        return body + bytes([continuous_checksum(body)])

    assert proto.parse(frame(0x2A, 0x30, b"001234")).value == "1234"
    assert proto.parse(frame(0x28, 0x30, b"001234")).value == "123400"
    assert proto.parse(frame(0x2D, 0x30, b"001234")).value == "1.234"
    negative = proto.parse(frame(0x2C, 0x32, b"000050"))
    assert isinstance(negative, Reading) and negative.value == "-0.50"
    over = proto.parse(frame(0x2C, 0x34, b"999999"))
    assert isinstance(over, Reading) and over.overload and not over.underload
    lb = proto.parse(frame(0x2C, 0x20, b"001234"))
    assert isinstance(lb, Reading) and lb.unit == "lb"


def test_8217_status_bits() -> None:
    proto = get_protocol("toledo-8217")
    centre = proto.parse(b"\x02?P\r")
    assert isinstance(centre, Reading) and centre.at_zero and centre.stable
    over = proto.parse(b"\x02?B\r")
    assert isinstance(over, Reading) and over.fault == "overload"
    moving_net = proto.parse(b"\x02?a\r")
    assert isinstance(moving_net, Reading) and moving_net.net and not moving_net.stable
    with_parity = proto.parse(b"\x02?\xc0\r")  # '@' with its even-parity bit set
    assert isinstance(with_parity, Reading) and with_parity.stable and not with_parity.fault


def test_command_replies_are_matched() -> None:
    sics = get_protocol("mt-sics")
    assert sics.match_reply("zero", sics.parse(b"Z A\r\n")) == (True, "Z A")
    assert sics.match_reply("zero", sics.parse(b"Z I\r\n"))[0] is False
    assert sics.match_reply("zero", sics.parse(b"ES\r\n")) == (False, "syntax error")
    assert sics.match_reply("zero", sics.parse(b"S S     1.000 kg\r\n")) is None
    assert sics.match_reply("tare", sics.parse(b"T S      2.486 g\r\n")) == (True, "T S 2.486 g")
    sma = get_protocol("sma")
    assert sma.match_reply("zero", sma.parse(b"\nE1G  ----------kg \r")) == (False, "zero error")
    assert sma.match_reply("zero", sma.parse(b"\n?\r")) == (False, "unknown command")
    nci = get_protocol("nci")
    assert nci.match_reply("zero", nci.parse(b"\nS20\r\x03")) == (True, "at zero")
    assert nci.match_reply("zero", nci.parse(b"\nS10\r\x03")) == (False, "in motion")


def test_unknown_protocol_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown scale protocol 'nope'"):
        get_protocol("nope")


def test_line_framer_drops_overlong_lines_whole() -> None:
    framer = LineFramer(b"\r\n", max_len=8)
    assert framer.feed(b"x" * 20) == []
    assert framer.feed(b"yy") == []
    assert framer.feed(b"y\r\nS +\r\n") == [b"S +\r\n"]
    assert framer.dropped == 25


def test_delimited_framer_drops_junk_and_resyncs() -> None:
    framer = DelimitedFramer(b"\x02", b"\r")
    assert framer.feed(b"junk\x02half\x0201.234\r") == [b"\x0201.234\r"]
    assert framer.dropped == len(b"junk") + len(b"\x02half")


def test_fixed_framer_skips_a_start_byte_without_its_end() -> None:
    framer = FixedFramer(b"\x02", b"\r", end_at=16, length=18)
    good = b"\x02,0 001234000000\r+"
    assert framer.feed(b"\x02abc" + good) == [good]
    assert framer.dropped == 4
