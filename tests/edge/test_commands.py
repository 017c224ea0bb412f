"""Command handling: scale commands go to every scale (or the named one), others are answered."""

import threading
from typing import Any

from dockscan.events import Command, CommandResult
from dockscan.ids import utcnow
from edge.commands import CommandHandler, CommandRunner


class RecordingScale:
    """A device peer that records the commands it gets (the handler is under test)."""

    kind = "scale"

    def __init__(self, device_id: str, ok: bool = True) -> None:
        self.id, self.ok, self.got = device_id, ok, []

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def command(self, name: str, args: dict[str, Any]) -> tuple[bool, str]:
        self.got.append(name)
        if name == "tare" and not self.ok:
            raise OSError("port vanished")
        return self.ok, f"{name} done"


def test_zero_goes_to_every_scale_and_tare_to_the_named_one() -> None:
    a, b = RecordingScale("scale-a"), RecordingScale("scale-b")
    handler = CommandHandler([a, b], resend=lambda: 7)
    assert handler.handle("zero", {}) == (True, "scale-a: zero done; scale-b: zero done")
    assert handler.handle("tare", {"device": "scale-b"}) == (True, "scale-b: tare done")
    assert (a.got, b.got) == (["zero"], ["zero", "tare"])
    assert handler.handle("tare", {"device": "nope"}) == (False, "no scale 'nope' on this station")
    assert handler.handle("resend", {}) == (True, "re-sending 7 pending event(s)")


def test_a_failing_driver_is_an_answer_not_a_crash() -> None:
    handler = CommandHandler([RecordingScale("scale-a", ok=False)], resend=lambda: 0)
    ok, detail = handler.handle("tare", {})
    assert not ok and "OSError: port vanished" in detail


def test_runner_answers_in_order_on_its_thread() -> None:
    replies: list[CommandResult] = []
    done = threading.Event()

    def reply(result: CommandResult) -> None:
        replies.append(result)
        if len(replies) == 3:
            done.set()

    runner = CommandRunner(CommandHandler([RecordingScale("s")], resend=lambda: 0), reply)
    runner.start()
    for i, name in enumerate(["zero", "bogus", "resend"]):
        runner.submit(name, Command(request_id=f"r{i}", ts=utcnow()))
    assert done.wait(5)
    runner.stop()
    assert [(r.request_id, r.command, r.ok) for r in replies] == [
        ("r0", "zero", True),
        ("r1", "bogus", False),
        ("r2", "resend", True),
    ]
