"""Camera simulator: label content, Code 128 rendering, frames, video, folder and MJPEG output."""

import json
import random
import string
from pathlib import Path

import cv2
import numpy as np
import zxingcpp
from click.testing import CliRunner

from firmware_sim.camera import CameraScene, MjpegServer, write_folder, write_video
from firmware_sim.camera_cli import camera
from firmware_sim.labels import (
    GS,
    LabelCode,
    gs1_element_strings,
    render_code,
    s10_number,
    sscc_number,
)
from tests.support.broker import free_port


def s10_ok(code: str) -> bool:
    """Check a UPU S10 number independently of the simulator (weights 8,6,4,2,3,5,9,7)."""
    digits = [int(d) for d in code[2:10]]
    check = 11 - sum(d * w for d, w in zip(digits, (8, 6, 4, 2, 3, 5, 9, 7), strict=True)) % 11
    return int(code[10]) == {10: 0, 11: 5}.get(check, check) and code[11:].isalpha()


def gs1_ok(number: str) -> bool:
    """Check a GS1 mod-10 check digit (weights 3,1 from the right, check digit excluded)."""
    body = [int(d) for d in number[:-1]][::-1]
    total = sum(d * (3 if i % 2 == 0 else 1) for i, d in enumerate(body))
    return (10 - total % 10) % 10 == int(number[-1])


def read_plain(image: np.ndarray) -> list[tuple[str, str]]:
    """Decode with zxing-cpp, raw text, returning (text, symbology identifier)."""
    found = zxingcpp.read_barcodes(image, text_mode=zxingcpp.TextMode.Plain)
    return [(b.text, b.symbology_identifier) for b in found]


def test_s10_and_sscc_numbers_have_valid_check_digits() -> None:
    rng = random.Random(0)
    assert s10_number(rng, "RR", "GB")[:2] == "RR"
    for _ in range(200):
        s10 = s10_number(rng)
        assert len(s10) == 13 and s10_ok(s10), s10
        sscc = sscc_number(rng)
        assert len(sscc) == 18 and gs1_ok(sscc), sscc
    assert s10_ok("RR123456785GB") and not s10_ok("RR123456784GB")


def test_code128_renderer_round_trips_through_zxing() -> None:
    rng = random.Random(1)
    alphabet = string.ascii_letters + string.digits + " -./"
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 20))) for _ in range(40)]
    texts += ["1", "12", "123", "A1234567", "00123456789012345675"]
    for text in texts:
        assert read_plain(render_code(LabelCode(text, "code128"), 2, 40)) == [(text, "]C0")], text


def test_gs1_128_renderer_marks_fnc1_and_separators() -> None:
    text = f"01095011015300031017B{GS}21ABC"
    assert read_plain(render_code(LabelCode(text, "gs1-128"), 2, 40)) == [(text, "]C1")]


def test_matrix_codes_render_readably() -> None:
    for symbology, text in [("qrcode", "RR123456785GB"), ("pdf417", "RR123456785GB DOCK")]:
        found = read_plain(render_code(LabelCode(text, symbology), 3))
        assert [t for t, _ in found] == [text]
    raw, hri = gs1_element_strings([("01", "09501101530003"), ("10", "L7"), ("21", "XYZ")])
    assert (raw, hri) == (f"010950110153000310L7{GS}21XYZ", "(01)09501101530003(10)L7(21)XYZ")
    assert read_plain(render_code(LabelCode(raw, "datamatrix", hri), 3)) == [(raw, "]d2")]


def test_frames_are_1080p_deterministic_and_carry_ground_truth() -> None:
    scene = CameraScene(seed=9)
    shots = [scene.frame(i) for i in range(scene.period)]
    assert shots[0].image.shape == (1080, 1920, 3)
    assert np.array_equal(CameraScene(seed=9).frame(5).image, shots[5].image)
    assert not np.array_equal(CameraScene(seed=10).frame(5).image, shots[5].image)
    assert any(s.truth for s in shots), "a parcel label is fully in view at some point"
    gap = shots[scene.parcel_frames :]
    assert gap and all(not s.truth for s in gap), "the belt is empty between parcels"
    with_truth = [s for s in shots if s.truth]
    assert all(s.parcel == 0 for s in with_truth)
    assert {t.text for s in with_truth for t in s.truth} <= {c.text for c in scene.parcel_codes(0)}


def test_folder_and_video_output(tmp_path: Path) -> None:
    scene = CameraScene(seed=2, width=640, height=360, module_px=2)
    truth = write_folder(scene, tmp_path / "frames", 5)
    lines = [json.loads(line) for line in truth.read_text().splitlines()]
    assert [line["frame"] for line in lines] == list(range(5))
    assert all(
        cv2.imread(str(tmp_path / "frames" / line["file"])).shape == (360, 640, 3) for line in lines
    )
    video_truth = write_video(scene, tmp_path / "v.avi", 7, fps=5)
    assert (
        video_truth == tmp_path / "v.truth.jsonl" and len(video_truth.read_text().splitlines()) == 7
    )
    cap = cv2.VideoCapture(str(tmp_path / "v.avi"))
    frames = 0
    while cap.read()[0]:
        frames += 1
    cap.release()
    assert frames == 7


def test_mjpeg_stream_opens_as_a_network_camera() -> None:
    scene = CameraScene(seed=3, width=640, height=360, module_px=2)
    server = MjpegServer(scene, free_port(), fps=20).start()
    try:
        cap = cv2.VideoCapture(server.url, cv2.CAP_FFMPEG)
        assert cap.isOpened()
        shapes = [cap.read()[1].shape for _ in range(3)]
        cap.release()
        assert shapes == [(360, 640, 3)] * 3
    finally:
        server.stop()


def test_cli_writes_frames_and_rejects_bad_options(tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(camera, ["--out", str(tmp_path / "f"), "--frames", "3", "--size", "640x360"])
    assert ok.exit_code == 0, ok.output
    assert len(list((tmp_path / "f").glob("*.jpg"))) == 3
    assert runner.invoke(camera, []).exit_code == 2
    bad = runner.invoke(camera, ["--out", str(tmp_path / "g"), "--size", "big"])
    assert bad.exit_code == 2 and "not WxH" in bad.output
    assert "Example:" in runner.invoke(camera, ["--help"]).output


def test_motion_blur_is_off_by_default_and_smears_along_the_belt() -> None:
    scene = CameraScene(seed=9)
    index = next(
        i
        for i in range(3 * scene.period)
        if any(sid.startswith("]C") for _, sid in read_plain(scene.frame(i).image))
    )
    plain = scene.frame(index)
    same = CameraScene(seed=9, motion_blur_px=(0, 0)).frame(index)
    assert np.array_equal(same.image, plain.image)
    blurred = CameraScene(seed=9, motion_blur_px=(12, 12)).frame(index)
    assert blurred.truth == plain.truth, "blur changes pixels, not what is in view"
    gray = [cv2.cvtColor(s.image, cv2.COLOR_BGR2GRAY).astype(np.float32) for s in (plain, blurred)]
    across = [float(np.abs(np.diff(g, axis=1)).mean()) for g in gray]  # along the belt (x)
    along = [float(np.abs(np.diff(g, axis=0)).mean()) for g in gray]
    assert across[1] < 0.7 * across[0], "edges across the belt's direction are smeared"
    assert across[1] / across[0] < along[1] / along[0], "x loses more detail than y"
    code128 = [t for t, sid in read_plain(blurred.image) if sid.startswith("]C")]
    assert code128 == [], "three modules of smear defeat a plain Code 128 read"
