"""bench/corpus.py: the shipped photo subset and ZXing's black-box layout, read for decode_bench."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import corpus, decode_bench  # noqa: E402
from tests.data.shipped_photos import PHOTOS, photo, photo_path  # noqa: E402

TEST_PHOTOS = [f"code128/code128-1/{n}.png" for n in (1, 2, 3, 4, 5, 7)] + [
    "ean13/ean13-1/1.png",
    "ean13/ean13-1/2.png",
    "itf/itf-1/1.png",
    "qrcode/qrcode-1/1.png",
]
PDF417_09 = "21829f09211a45f409352f443f093f9a465a09632782ff096d1541c909a02346"


def test_shipped_subset_covers_every_format_and_the_test_photos() -> None:
    shipped = corpus.open_corpus()
    assert shipped.layout == "manifest" and shipped.root == PHOTOS
    assert set(shipped.counts()) == set(corpus.FORMATS)
    assert 40 <= len(shipped.entries) <= 60
    paths = {e.path.relative_to(PHOTOS).as_posix() for e in shipped.entries}
    assert set(TEST_PHOTOS) <= paths
    assert all(e.path.is_file() for e in shipped.entries)
    size = sum(p.stat().st_size for p in PHOTOS.rglob("*") if p.is_file())
    assert size < 1_600_000, f"shipped photos grew to {size} bytes"
    for name in ("NOTICE", "LICENSE"):
        assert "Apache License" in (PHOTOS / name).read_text(encoding="utf-8")


def test_shipped_manifest_values_are_unescaped_and_unquoted() -> None:
    by_path = {e.path.relative_to(PHOTOS).as_posix(): e for e in corpus.open_corpus().entries}
    hex_entry = by_path["pdf417/pdf417-1/09.png"]
    assert (hex_entry.expected, hex_entry.is_hex) == (PDF417_09, True)
    gs1 = by_path["code128/code128-1/5.png"]
    assert (gs1.expected, gs1.is_hex) == ("8101054321120021123456", False)
    quoted = by_path["qrcode/qrcode-2/1.png"].expected
    assert quoted.startswith('When we at WRT talk about \\"text,\\" we are')
    assert "\r\n" in by_path["qrcode/qrcode-2/17.png"].expected


def test_describe_says_when_the_shipped_subset_is_used() -> None:
    text = corpus.describe(corpus.open_corpus())
    assert text.startswith("corpus: shipped subset (56 photos")
    assert "pass --photos DIR for the full ZXing corpus" in text


def blackbox(tmp_path: Path) -> Path:
    """Build a tiny folder in the upstream black-box layout from three shipped photos."""
    root = tmp_path / "blackbox"
    for folder in ("code128-1", "code39-2", "pdf417-1", "pdf417-4", "aztec-1", "falsepositives"):
        (root / folder).mkdir(parents=True)
    shutil.copyfile(photo_path("code128/code128-1/1.png"), root / "code128-1" / "1.png")
    (root / "code128-1" / "1.txt").write_text("168901", encoding="utf-8")
    (root / "code128-1" / "1.metadata.txt").write_text("SYMBOLOGY_IDENTIFIER=]C0\n")
    lossless = [cv2.IMWRITE_WEBP_QUALITY, 101]
    cv2.imwrite(str(root / "code39-2" / "2.webp"), photo("code39/code39-2/2.png"), lossless)
    (root / "code39-2" / "2.txt").write_text("12ab", encoding="utf-8")
    shutil.copyfile(photo_path("pdf417/pdf417-1/09.png"), root / "pdf417-1" / "09.png")
    (root / "pdf417-1" / "09.bin").write_bytes(bytes.fromhex(PDF417_09))
    shutil.copyfile(photo_path("pdf417/pdf417-1/09.png"), root / "pdf417-4" / "01-01.png")
    (root / "pdf417-4" / "01.bin").write_bytes(bytes.fromhex(PDF417_09))
    shutil.copyfile(photo_path("code128/code128-1/1.png"), root / "aztec-1" / "1.png")
    (root / "aztec-1" / "1.txt").write_text("168901", encoding="utf-8")
    shutil.copyfile(photo_path("code128/code128-1/1.png"), root / "falsepositives" / "1.png")
    (root / "README").write_text("upstream readme\n")
    return root


def test_blackbox_layout_reads_txt_and_bin_and_notes_what_it_skips(tmp_path: Path) -> None:
    root = blackbox(tmp_path)
    found = corpus.open_corpus(root)
    assert found.layout == "black-box"
    assert [(e.path.relative_to(root).as_posix(), e.fmt, e.is_hex) for e in found.entries] == [
        ("code128-1/1.png", "code128", False),
        ("code39-2/2.webp", "code39", False),
        ("pdf417-1/09.png", "pdf417", True),
    ]
    assert [e.expected for e in found.entries] == ["168901", "12ab", PDF417_09]
    assert found.notes == [
        "skipped 1 photos in unsupported formats: aztec-1",
        "skipped 1 photos in pdf417-4: no .txt/.bin of the same name",
    ]
    assert corpus.describe(found).startswith(f"corpus: {root} (black-box layout, 3 photos)")
    one = corpus.open_corpus(root / "code128-1")
    assert [e.expected for e in one.entries] == ["168901"]


def test_blackbox_photos_decode_to_their_expected_content(tmp_path: Path) -> None:
    samples = decode_bench.load_samples(corpus.open_corpus(blackbox(tmp_path)), 1)
    result = decode_bench.score(decode_bench.run_zxing, samples, 0)
    assert (result.reads, result.misreads) == (3, 0), result.wrong


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("code128-1", "code128"),
        ("ean13-2", "ean13"),
        ("qrcode-3", "qrcode"),
        ("datamatrix-1", "datamatrix"),
        ("multi-qrcode-1", "multi-qrcode"),
        ("falsepositives", None),
        ("code128", None),
    ],
)
def test_folder_format(name: str, fmt: str | None) -> None:
    assert corpus.folder_format(name) == fmt


def test_unusable_folders_fail_with_where_to_get_the_corpus(tmp_path: Path) -> None:
    with pytest.raises(
        corpus.CorpusError, match=re.escape("git clone https://github.com/zxing/zxing")
    ):
        corpus.open_corpus(tmp_path / "absent")
    with pytest.raises(corpus.CorpusError, match="no photos found"):
        corpus.open_corpus(tmp_path)
    (tmp_path / "MANIFEST.tsv").write_text(
        "path\tformat\texpected_text\tsource\texpected_kind\nx/1.png\tqrcode\tA\tup\ttext\n"
    )
    with pytest.raises(corpus.CorpusError, match=re.escape("x/1.png is missing")):
        corpus.open_corpus(tmp_path)
    (tmp_path / "MANIFEST.tsv").write_text("path\tformat\n")
    with pytest.raises(corpus.CorpusError, match="header must be"):
        corpus.open_corpus(tmp_path)


def test_unescape() -> None:
    assert corpus.unescape("a\\tb\\nc\\rd\\\\e\\x1df\\x1e") == "a\tb\nc\rd\\e\x1df\x1e"


def test_bench_help_says_where_to_get_the_corpus() -> None:
    script = REPO / "bench" / "decode_bench.py"
    out = subprocess.run(
        [sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert "git clone https://github.com/zxing/zxing" in out.stdout
    assert "zxing/core/src/test/resources/blackbox" in out.stdout
    assert "7f129804e396" in out.stdout
