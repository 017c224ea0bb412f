"""Tilted photos next to hard canvas edges, and the rules that keep enhanced reads honest."""

import cv2
import numpy as np
import pytest

from edge.vision import Code, Decoder, DecoderSettings
from edge.vision.effort import Votes, light_ends, one_linear
from edge.vision.localise import find_linear_regions
from firmware_sim.camera import CameraScene
from firmware_sim.labels import LabelCode, render_code
from tests.data.shipped_photos import photo

CAMERA_SET = ("code128", "gs1-128", "datamatrix", "qrcode", "pdf417")
EXPECTED = {
    "ean13/ean13-2/12.png": "9780345348036",
    "ean13/ean13-3/32.png": "9780201310054",
    "ean13/ean13-4/12.png": "9780441014989",
    "ean13/ean13-3/25.png": "9780201310054",
    "code128/code128-1/6.png": "óóóó1234óóabózz",
    "itf/itf-1/3.png": "0053611912",
}


def turned(gray: np.ndarray, degrees: float, fill: int, enlarge: bool) -> np.ndarray:
    """Rotate a photo about its centre; a same-size canvas cuts the corners off."""
    h, w = gray.shape
    m = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    size = (w, h)
    if enlarge:
        cos, sin = abs(m[0, 0]), abs(m[0, 1])
        size = (int(h * sin + w * cos), int(h * cos + w * sin))
        m[0, 2] += size[0] / 2 - w / 2
        m[1, 2] += size[1] / 2 - h / 2
    return cv2.warpAffine(gray, m, size, flags=cv2.INTER_LINEAR, borderValue=fill)


@pytest.mark.parametrize(
    "rel", ["ean13/ean13-2/12.png", "ean13/ean13-3/32.png", "ean13/ean13-4/12.png"]
)
def test_photo_turned_45_on_a_cut_off_black_canvas_reads(rel: str) -> None:
    image = turned(photo(rel), 45, fill=0, enlarge=False)
    assert EXPECTED[rel] in [c.text for c in Decoder().decode(image)]


@pytest.mark.parametrize(
    "rel", ["ean13/ean13-3/25.png", "code128/code128-1/6.png", "itf/itf-1/3.png"]
)
def test_photo_turned_45_on_a_white_canvas_reads(rel: str) -> None:
    image = turned(photo(rel), 45, fill=255, enlarge=True)
    assert EXPECTED[rel] in [c.text for c in Decoder().decode(image)]


def test_a_lone_canvas_edge_is_no_bar_region() -> None:
    canvas = turned(np.full((300, 400), 235, np.uint8), 45, fill=0, enlarge=True)
    assert find_linear_regions(canvas) == []
    code = render_code(LabelCode("RR123456785GB", "code128"), 2, 60)
    label = np.full((300, 480), 235, np.uint8)
    y, x = (300 - code.shape[0]) // 2, (480 - code.shape[1]) // 2
    label[y : y + code.shape[0], x : x + code.shape[1]] = code
    image = turned(label, 45, fill=0, enlarge=True)
    regions = find_linear_regions(image)
    assert regions, "the code itself is still found"
    h, w = image.shape
    assert np.hypot(regions[0].cx - w / 2, regions[0].cy - h / 2) < 40, "on the code, not the edge"
    assert all(abs(abs(r.angle_deg) - 45) < 5 for r in regions)


def test_dark_canvas_at_a_crop_end_is_painted_light() -> None:
    code = render_code(LabelCode("RR123456785GB", "code128"), 3, 60)
    crop = cv2.copyMakeBorder(code, 10, 10, 120, 120, cv2.BORDER_CONSTANT, value=0)
    painted = light_ends(crop)
    assert painted is not None
    assert painted[:, :110].min() > 200 and painted[:, -110:].min() > 200
    inner = (slice(10, -10), slice(130, -130))
    assert np.array_equal(painted[inner], crop[inner]), "the bars are left alone"
    assert (
        light_ends(cv2.copyMakeBorder(code, 10, 10, 60, 60, cv2.BORDER_CONSTANT, value=255)) is None
    )


def _code(text: str, symbology: str, top: int, bottom: int) -> Code:
    """A 1D read as zxing-cpp reports it in an upright crop: a band from row top to bottom."""
    return Code(text, symbology, ((10, top), (210, top), (210, bottom), (10, bottom)))


def test_an_unsure_ean_needs_a_second_agreeing_attempt() -> None:
    votes = Votes()
    thin = _code("4726204310054", "ean13", 50, 52)
    assert votes.add([thin], sure=set()) == [], "seen once, on two rows: not yet"
    assert votes.add([_code("9780201310054", "ean13", 40, 42)], sure=set()) == []
    assert votes.add([thin], sure=set()) == [thin], "a second attempt agrees"
    strong = _code("RR123456785GB", "code128", 50, 51)
    assert Votes().add([strong], sure=set()) == [strong], "Code 128 carries its own check"
    assert Votes(confirm=False).add([thin], sure=set()) == [thin]


def test_one_crop_keeps_one_ean_the_one_on_most_rows() -> None:
    wide = _code("9780804816632", "ean13", 20, 60)
    noise = _code("0716864816632", "ean13", 30, 31)
    other = _code("RR123456785GB", "code128", 0, 5)
    assert one_linear([noise, wide, other]) == [wide, other]


def test_an_upside_down_read_counts_its_rows_too() -> None:
    flipped = Code("9781558604971", "ean13", ((553, 266), (142, 266), (142, 160), (553, 160)))
    noise = _code("8782358604971", "ean13", 180, 182)
    assert one_linear([noise, flipped]) == [flipped]
    assert Votes().add([flipped], sure=set()) == []


@pytest.mark.parametrize(
    ("band", "index"), [((2.0, 4.0), 545), ((4.0, 6.0), 367), ((4.0, 6.0), 891)]
)
def test_a_blurred_frame_gives_no_second_code_inside_the_real_one(
    band: tuple[float, float], index: int
) -> None:
    scene = CameraScene(seed=11, motion_blur_px=band)
    shot = scene.frame(index)
    printed = {c.text for c in scene.parcel_codes(index // scene.period)}
    decoder = Decoder(DecoderSettings(symbologies=CAMERA_SET))
    texts = {c.text for c in decoder.decode(shot.image)}
    assert texts and texts <= printed, f"a read that is not on the label: {texts - printed}"
    assert scene.parcel_codes(index // scene.period)[0].text in texts, "the id itself is kept"
