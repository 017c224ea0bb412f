"""`dockscan decode` on real photographs, rendered labels and broken files."""

import json
from pathlib import Path

import cv2
import numpy as np
from click.testing import CliRunner

from dockscan.cli import cli
from firmware_sim.labels import GS, LabelCode, render_code
from tests.data.shipped_photos import photo_path


def label_png(tmp_path: Path, text: str, symbology: str) -> str:
    """Write one rendered code on a white margin as a PNG; return its path."""
    code = render_code(LabelCode(text, symbology), 2, 80)
    image = cv2.copyMakeBorder(code, 40, 40, 40, 40, cv2.BORDER_CONSTANT, value=255)
    path = tmp_path / f"{symbology}.png"
    cv2.imwrite(str(path), image)
    return str(path)


def test_json_lines_with_raw_gs1_text(tmp_path: Path) -> None:
    text = f"00012345600000000110LOT1{GS}21SER"
    png = label_png(tmp_path, text, "gs1-128")
    qr = str(photo_path("qrcode/qrcode-1/1.png"))
    result = CliRunner().invoke(cli, ["decode", "--json", png, qr])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [line["path"] for line in lines] == [png, qr]
    assert lines[0]["codes"][0]["text"] == text
    assert lines[0]["codes"][0]["symbology"] == "gs1-128"
    assert len(lines[0]["codes"][0]["position"]) == 4
    assert "\\u001d" in result.output.splitlines()[0], "GS survives in the JSON"
    assert lines[1]["codes"][0]["symbology"] == "qrcode"


def test_plain_lines_show_gs_escaped(tmp_path: Path) -> None:
    text = f"0109501101530003{GS}21A"
    png = label_png(tmp_path, text, "gs1-128")
    result = CliRunner().invoke(cli, ["decode", png])
    assert result.exit_code == 0
    assert result.output == f"{png}\tgs1-128 0109501101530003\\x1d21A\n"


def test_unreadable_images_give_error_lines_and_exit_1(tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff\xe0 truncated")
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    good = label_png(tmp_path, "RR123456785GB", "code128")
    args = ["decode", "--json", str(corrupt), str(tmp_path / "missing.png"), str(empty), good]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert [("error" in line) for line in lines] == [True, True, True, False]
    assert "not a readable image" in lines[0]["error"]
    assert "No such file" in lines[1]["error"]
    assert lines[3]["codes"][0]["text"] == "RR123456785GB"
    assert "3 of 4 images unreadable" in result.output


def test_symbology_filter_and_no_tilt(tmp_path: Path) -> None:
    png = label_png(tmp_path, "CP000000015GB", "code128")
    only_qr = CliRunner().invoke(cli, ["decode", "--symbology", "qrcode", png])
    assert only_qr.output == f"{png}\tno code\n"
    image = cv2.imread(png, cv2.IMREAD_GRAYSCALE)
    h, w = image.shape
    side = int(np.hypot(h, w)) + 20
    canvas = np.full((side, side), 255, np.uint8)
    canvas[(side - h) // 2 : (side - h) // 2 + h, (side - w) // 2 : (side - w) // 2 + w] = image
    turned = cv2.warpAffine(
        canvas, cv2.getRotationMatrix2D((side / 2, side / 2), 40, 1), (side, side), borderValue=255
    )
    tilted = tmp_path / "tilted.png"
    cv2.imwrite(str(tilted), turned)
    assert "code128 CP000000015GB" in CliRunner().invoke(cli, ["decode", str(tilted)]).output


def test_camera_settings_from_config(tmp_path: Path) -> None:
    config = tmp_path / "site.toml"
    config.write_text(
        '[site]\nid = "s1"\n[[stations]]\nid = "d1"\ndock = "a"\n'
        '[[stations.devices]]\nkind = "camera"\nid = "cam1"\nsource = "0"\n'
        'symbologies = ["qrcode"]\n'
    )
    png = label_png(tmp_path, "CP000000015GB", "code128")
    out = CliRunner().invoke(cli, ["decode", "-c", str(config), "--camera", "cam1", png])
    assert out.exit_code == 0 and out.output.endswith("no code\n")
    missing = CliRunner().invoke(cli, ["decode", "-c", str(config), "--camera", "cam9", png])
    assert missing.exit_code == 2 and "no camera 'cam9'" in missing.output


def test_help_has_an_example() -> None:
    result = CliRunner().invoke(cli, ["decode", "--help"])
    assert result.exit_code == 0 and "Example:" in result.output


def test_photo_turned_45_on_a_black_canvas_reads_through_the_cli(tmp_path: Path) -> None:
    gray = cv2.imread(str(photo_path("ean13/ean13-4/12.png")), cv2.IMREAD_GRAYSCALE)
    h, w = gray.shape
    turn = cv2.getRotationMatrix2D((w / 2, h / 2), 45, 1.0)
    png = tmp_path / "tilted.png"
    cv2.imwrite(str(png), cv2.warpAffine(gray, turn, (w, h), borderValue=0))
    result = CliRunner().invoke(cli, ["decode", "--json", str(png)])
    assert result.exit_code == 0, result.output
    codes = json.loads(result.output)["codes"]
    assert [(c["text"], c["symbology"]) for c in codes] == [("9780441014989", "ean13")]
