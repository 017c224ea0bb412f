"""Station commands (cmd/zero, cmd/tare, cmd/resend), run on their own thread and answered."""

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from typing import Any

from dockscan.events import Command, CommandResult
from dockscan.ids import utcnow
from edge.devices.base import Device

logger = logging.getLogger(__name__)

SCALE_COMMANDS = ("zero", "tare")


class CommandHandler:
    """Knows what each command does: scale commands go to the scales, resend to the publisher."""

    def __init__(self, devices: Sequence[Device], resend: Callable[[], int]) -> None:
        self.devices, self.resend = devices, resend

    def handle(self, name: str, args: dict[str, Any]) -> tuple[bool, str]:
        """Run one command; return (ok, detail)."""
        if name == "resend":
            return True, f"re-sending {self.resend()} pending event(s)"
        if name in SCALE_COMMANDS:
            wanted = args.get("device")
            scales = [d for d in self.devices if d.kind == "scale" and wanted in (None, d.id)]
            if not scales:
                return False, f"no scale {wanted!r} on this station" if wanted else "no scale"
            details, ok = [], True
            for scale in scales:
                try:
                    done, detail = scale.command(name, args)
                except Exception as exc:  # a driver error must not kill the command thread
                    done, detail = False, f"{type(exc).__name__}: {exc}"
                ok = ok and done
                details.append(f"{scale.id}: {detail}")
            return ok, "; ".join(details)[:1024]
        return False, f"unknown command {name!r} (known: zero, tare, resend)"


class CommandRunner:
    """A bounded queue of commands executed in order on one named thread."""

    def __init__(
        self,
        handler: CommandHandler,
        reply: Callable[[CommandResult], None],
        maxsize: int = 100,
    ) -> None:
        self.handler, self.reply = handler, reply
        self._queue: queue.Queue[tuple[str, Command] | None] = queue.Queue(maxsize)
        self._thread = threading.Thread(target=self._run, name="commands", daemon=True)

    def start(self) -> None:
        """Start the command thread."""
        self._thread.start()

    def submit(self, name: str, command: Command) -> None:
        """Queue a command; answer at once if the queue is full."""
        try:
            self._queue.put_nowait((name, command))
        except queue.Full:
            self.reply(self.result(command.request_id, name, False, "busy: too many commands"))

    def stop(self) -> None:
        """Finish queued commands and join the thread."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(10)

    @staticmethod
    def result(request_id: str, name: str, ok: bool, detail: str) -> CommandResult:
        """Build a CommandResult."""
        return CommandResult(
            request_id=request_id[:64], command=name[:32], ok=ok, detail=detail[:1024], ts=utcnow()
        )

    def _run(self) -> None:
        """Execute commands until stopped."""
        while (item := self._queue.get()) is not None:
            name, command = item
            ok, detail = self.handler.handle(name, command.args)
            logger.info("command %s (%s): ok=%s %s", name, command.request_id, ok, detail)
            self.reply(self.result(command.request_id, name, ok, detail))
