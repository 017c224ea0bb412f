"""What a doctor check is, what it returns, and what it is given."""

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from dockscan.config import SiteConfig, StationConfig


class Status(StrEnum):
    """The outcome of one check; only FAIL makes the doctor exit non-zero."""

    OK = "ok"
    WARN = "warn"
    FAIL = "FAIL"


@dataclass(frozen=True)
class Result:
    """One row of the doctor's table: status, check name, detail and, when not ok, a fix."""

    status: Status
    name: str
    detail: str
    fix: str = ""

    def as_dict(self) -> dict[str, str]:
        """Return the row as JSON-ready strings (status in lower case)."""
        return {
            "status": self.status.value.lower(),
            "name": self.name,
            "detail": self.detail,
            "fix": self.fix,
        }


def ok(name: str, detail: str) -> Result:
    """Return a passing row."""
    return Result(Status.OK, name, detail)


def warn(name: str, detail: str, fix: str = "") -> Result:
    """Return a warning row (does not change the exit code)."""
    return Result(Status.WARN, name, detail, fix)


def fail(name: str, detail: str, fix: str = "") -> Result:
    """Return a failing row."""
    return Result(Status.FAIL, name, detail, fix)


@dataclass(frozen=True)
class Context:
    """What every check may read: the loaded config, the target and the time budget."""

    cfg: SiteConfig
    config_path: str
    station: StationConfig | None  # None: the gateway host is checked
    timeout_s: float = 5.0

    @property
    def target(self) -> str:
        """Return what is being checked, e.g. `station dock07-a` or `gateway gw-1`."""
        if self.station is None:
            return f"gateway {self.cfg.gateway.id}"
        return f"station {self.station.id}"


@dataclass(frozen=True)
class Check:
    """A named check to run; `run` returns one row (the runner catches what it raises)."""

    name: str
    run: Callable[[], Result]


Provider = Callable[[Context], list[Check]]
