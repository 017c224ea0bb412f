"""Stable-weight capture rules over explicit times (pure logic)."""

from edge.devices.capture import CaptureRules, StableCapture
from edge.devices.protocols import Reading

RULES = CaptureRules(settle_s=0.5, division_kg=0.005, min_kg=0.05, max_kg=60.0, zero_band_kg=0.025)


def reading(value: str | None, stable: bool = True, **flags: bool) -> Reading:
    """A kg reading as a scale would send it."""
    return Reading(value, "kg", stable=stable, raw=f"{value}".encode(), **flags)


def feed(capture: StableCapture, samples: list[tuple[float, Reading]]) -> list[float]:
    """Feed samples; return the times at which a capture happened."""
    return [t for t, r in samples if capture.feed(t, r) is not None]


def steady(value: str, start: float, end: float, step: float = 0.1) -> list[tuple[float, Reading]]:
    """Stable readings of `value` every `step` seconds from start to end."""
    count = round((end - start) / step)
    return [(round(start + i * step, 6), reading(value)) for i in range(count + 1)]


def test_captures_after_settle_time_and_only_once() -> None:
    capture = StableCapture(RULES)
    times = feed(capture, steady("2.345", 0.0, 2.0))
    assert times == [0.5]


def test_returns_the_device_reading_unchanged() -> None:
    capture = StableCapture(RULES)
    feed(capture, steady("2.345", 0.0, 0.4))
    captured = capture.feed(0.5, reading("2.345"))
    assert captured is not None and (captured.value, captured.raw) == ("2.345", b"2.345")


def test_device_motion_flag_blocks_and_restarts_the_window() -> None:
    capture = StableCapture(RULES)
    samples = [*steady("2.345", 0.0, 0.4), (0.45, reading("2.345", stable=False))]
    samples += steady("2.345", 0.5, 1.2)
    assert feed(capture, samples) == [1.0]


def test_drift_beyond_one_division_restarts_the_window() -> None:
    capture = StableCapture(RULES)
    samples = [(0.0, reading("2.340")), (0.2, reading("2.345")), (0.4, reading("2.350"))]
    samples += [(0.6, reading("2.350")), (0.8, reading("2.350")), (0.95, reading("2.350"))]
    assert feed(capture, samples) == [0.8]  # window restarts at 0.2 (2.345-2.350 is 1 d)


def test_flicker_within_one_division_still_settles() -> None:
    capture = StableCapture(RULES)
    values = ["2.345", "2.350", "2.345", "2.350", "2.345", "2.350"]
    samples = [(i * 0.1, reading(v)) for i, v in enumerate(values)]
    assert feed(capture, samples) == [0.5]


def test_outside_min_or_max_is_not_captured() -> None:
    capture = StableCapture(RULES)
    assert feed(capture, steady("0.040", 0.0, 1.0)) == []
    assert feed(capture, steady("60.500", 1.1, 2.0)) == []
    assert feed(capture, steady("0.050", 2.1, 3.0)) == [2.6]


def test_over_and_underload_flags_never_capture() -> None:
    capture = StableCapture(RULES)
    samples = [(i * 0.1, reading("5.000", overload=True)) for i in range(10)]
    samples += [(1 + i * 0.1, reading("5.000", underload=True)) for i in range(10)]
    samples += [(2 + i * 0.1, reading("5.000", error="tare error")) for i in range(10)]
    assert feed(capture, samples) == []


def test_rearms_after_return_near_zero() -> None:
    capture = StableCapture(RULES)
    samples = steady("2.345", 0.0, 1.0) + steady("0.020", 1.1, 1.5) + steady("3.100", 1.6, 2.5)
    assert feed(capture, samples) == [0.5, 2.1]


def test_does_not_rearm_without_zero_or_motion() -> None:
    capture = StableCapture(RULES)
    samples = steady("2.345", 0.0, 1.0) + steady("3.100", 1.1, 2.5)  # stable jump, no motion
    assert feed(capture, samples) == [0.5]


def test_rearms_after_motion() -> None:
    capture = StableCapture(RULES)
    samples = [*steady("2.345", 0.0, 1.0), (1.05, reading(None, stable=False))]
    samples += steady("2.345", 1.1, 2.0)
    assert feed(capture, samples) == [0.5, 1.6]


def test_status_frame_at_centre_of_zero_rearms() -> None:
    capture = StableCapture(RULES)
    samples = [*steady("2.345", 0.0, 1.0), (1.05, reading(None, at_zero=True))]
    samples += steady("2.345", 1.1, 2.0)
    assert feed(capture, samples) == [0.5, 1.6]


def test_zero_settle_time_captures_the_first_stable_reading() -> None:
    capture = StableCapture(CaptureRules(settle_s=0.0))
    assert feed(capture, steady("1.000", 3.0, 3.5)) == [3.0]


def test_reset_clears_the_window_but_not_the_arming() -> None:
    capture = StableCapture(RULES)
    feed(capture, steady("2.345", 0.0, 0.4))
    capture.reset()
    assert feed(capture, steady("2.345", 0.45, 0.9)) == []  # window restarted at 0.45
    assert capture.feed(0.95, reading("2.345")) is not None
    capture.reset()
    assert feed(capture, steady("2.345", 1.0, 2.0)) == []  # still disarmed: same parcel
