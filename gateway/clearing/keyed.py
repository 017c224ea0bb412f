"""A code keyed at the clearing desk: typed, or scanned with a keyboard-wedge hand scanner.

A wedge cannot type the GS1 separator GS (0x1d) into a browser field, so it sends a token
instead (`<GS>` unless `[clearing] gs_tokens` says otherwise); a browser may also pass GS itself.
The code is then checked as a station checks a scan (`dockscan.codes`): a failed check digit or
a code that names no parcel is refused with the reason, so the clerk keys it again.
"""

import re

from dockscan.codes import GS, CodeClassifier, tracking_id
from dockscan.correction_events import KeyedCode
from dockscan.errors import DockscanError

MAX_KEYED = 256
CONTROL = re.compile(r"[\x00-\x1c\x1e-\x1f\x7f]")  # every control character but GS


class KeyedCodeError(DockscanError):
    """A keyed code that cannot resolve a parcel; the message says why."""


def with_gs(text: str, tokens: list[str]) -> str:
    """Return the text with each GS token (any case) replaced by GS itself."""
    for token in tokens:
        text = re.sub(re.escape(token), GS, text, flags=re.IGNORECASE)
    return text


def check_keyed(text: str, tokens: list[str], classifier: CodeClassifier) -> KeyedCode:
    """Return the checked code, or raise KeyedCodeError naming what is wrong."""
    code = with_gs(text.strip(), tokens)
    if not code:
        raise KeyedCodeError("type or scan the parcel's code")
    if len(code) > MAX_KEYED:
        raise KeyedCodeError(f"a code has at most {MAX_KEYED} characters, this has {len(code)}")
    if CONTROL.search(code):
        raise KeyedCodeError("the code holds control characters: scan or type it again")
    info = tracking_id(code, classifier)
    if info.check_ok is False:
        raise KeyedCodeError(f"{info.reason or 'check digit failed'}: check the code and key it")
    if not info.is_parcel_id:
        raise KeyedCodeError(
            f"not a parcel id (kind {info.kind}): key the tracking number (UPU S10, SSCC, UPS"
            " or a site carrier pattern)"
        )
    return KeyedCode(text=code, kind=info.kind, check_ok=info.check_ok, tracking_id=info.value)
