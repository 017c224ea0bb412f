"""The gateway's verdicts on this station's parcels, in the words the dock worker reads.

The gateway judges each stored parcel against the open manifests and publishes the verdicts on
`{prefix}/{site}/{station}/verdict` a few tens of milliseconds after the parcels' ack.
`VerdictInbox` validates them and hands the screen one view per parcel: a tone (green, amber,
red or plain) and short lines such as `WEIGHT OVER +1.4 kg` or `UNEXPECTED — set aside`.
"""

import logging
import re
from collections.abc import Callable
from typing import Any

from dockscan.codes import CodeClassifier, tracking_id
from dockscan.errors import ContractError
from dockscan.events import Outcome, ParcelEvent
from dockscan.hub_events import Match, Verdict, VerdictBatch, WeightCheck
from edge.holds import reason_words
from edge.screen.hub import printable

logger = logging.getLogger(__name__)
GREEN, AMBER, RED, PLAIN = "green", "amber", "red", "plain"
RANK = {PLAIN: 0, GREEN: 1, AMBER: 2, RED: 3}
# The gateway judges these outcomes' first code when it is a parcel id (gateway/reconcile).
JUDGED = (Outcome.OK, Outcome.NO_WEIGHT, Outcome.REPEAT)
PRINTABLE_ID = re.compile(r"^[\x21-\x7e]{3,64}$")
MINUS = "\u2212"

Line = dict[str, str]


def expects_verdict(event: ParcelEvent, classifier: CodeClassifier) -> bool:
    """Return whether the gateway will judge this parcel (so the screen says it is pending)."""
    if event.outcome not in JUDGED:
        return False
    code = next((b for b in event.barcodes if b.check_ok is not False), None)
    if code is None:
        return False
    info = tracking_id(code.text, classifier)
    return info.is_parcel_id and bool(PRINTABLE_ID.match(info.value))


def signed_kg(delta: float) -> str:
    """Return a weight difference as the worker reads it: +1.4 kg, −0.8 kg, +0.05 kg."""
    places = 2 if abs(delta) < 0.1 else 1
    text = f"{abs(delta):.{places}f} kg"
    return ("+" if delta >= 0 else MINUS) + text


def _kg(value: float | None) -> str:
    """Return a weight in kg with up to three decimals."""
    return "" if value is None else f"{value:.3f}".rstrip("0").rstrip(".") + " kg"


def _match_line(v: Verdict) -> Line:
    """Return the line that says whether the parcel was expected."""
    if v.match is Match.UNEXPECTED:
        return {"text": "UNEXPECTED — set aside", "tone": AMBER}
    if v.match is Match.DUPLICATE:
        return {"text": "DUPLICATE — seen before", "tone": AMBER}
    if v.match is Match.MATCHED:
        return {"text": "MATCHED", "tone": GREEN}
    return {"text": "no manifest open", "tone": PLAIN}


def _weight_line(v: Verdict) -> Line | None:
    """Return the line about declared against measured weight, if there is one to say."""
    if v.weight is WeightCheck.WEIGHT_OVER and v.delta_kg is not None:
        return {"text": f"WEIGHT OVER {signed_kg(v.delta_kg)}", "tone": AMBER}
    if v.weight is WeightCheck.WEIGHT_UNDER and v.delta_kg is not None:
        return {"text": f"WEIGHT UNDER {signed_kg(v.delta_kg)}", "tone": AMBER}
    if v.weight in (WeightCheck.WEIGHT_OVER, WeightCheck.WEIGHT_UNDER):
        return {"text": v.weight.value.replace("_", " "), "tone": AMBER}
    if v.weight is WeightCheck.WEIGHT_OK:
        return {"text": "weight OK", "tone": GREEN}
    if v.weight is WeightCheck.NO_DECLARATION and v.match is Match.MATCHED:
        return {"text": "no declared weight", "tone": PLAIN}
    return None  # NO_WEIGHT: the screen already says so; NO_DECLARATION off-manifest: nothing


def verdict_view(v: Verdict) -> dict[str, Any]:
    """Return what the screen shows of one verdict: tone, lines (worst first) and a detail."""
    lines = [_match_line(v)]
    weight = _weight_line(v)
    if weight is not None:
        lines.append(weight)
    if v.hold is not None:
        lines.insert(0, {"text": f"HOLD — {reason_words(v.hold.value)}", "tone": RED})
    lines.sort(key=lambda line: -RANK[line["tone"]])
    detail = []
    if v.declared_kg is not None:
        detail.append(f"declared {_kg(v.declared_kg)}")
    if v.measured_kg is not None:
        detail.append(f"measured {_kg(v.measured_kg)}")
    if v.tolerance_kg is not None:
        detail.append(f"tolerance ±{_kg(v.tolerance_kg)}")
    if v.manifest_id:
        detail.append(f"manifest {printable(v.manifest_id)}")
    hold = None
    if v.hold is not None:  # the screen turns red on it too, should the local list lag behind
        hold = {"reason": v.hold.value, "words": reason_words(v.hold.value), "note": ""}
    return {
        "state": "done",
        "tone": lines[0]["tone"],
        "lines": lines,
        "detail": " · ".join(detail),
        "hold": hold,
        "revision": v.revision,
    }


class VerdictInbox:
    """Validates this station's verdict batches and hands their views to the screen."""

    def __init__(
        self, site: str, station: str, show: Callable[[dict[str, dict[str, Any]]], None]
    ) -> None:
        self.site, self.station, self.show = site, station, show
        self.received = 0

    def receive(self, payload: bytes) -> None:
        """Take one VerdictBatch (paho's thread); raise ValueError or ContractError if bad."""
        batch = VerdictBatch.model_validate_json(payload)
        if (batch.site, batch.station) != (self.site, self.station):
            raise ContractError(f"verdicts for {batch.site}/{batch.station}, not for this station")
        views = {v.event_id: verdict_view(v) for v in batch.verdicts}
        self.received += len(views)
        try:
            self.show(views)
        except Exception:  # a screen fault must never reach paho's thread
            logger.exception("the screen did not take %d verdict(s)", len(views))
