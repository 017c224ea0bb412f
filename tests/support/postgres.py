"""The private PostgreSQL for tests (it lives in dockscan.localsvc, which the demo uses too)."""

from dockscan.localsvc.postgres import (  # noqa: F401 - re-exported
    INSTALL_HINT,
    PASSWORD,
    PASSWORD_ENV,
    USER,
    Postgres,
    bindir,
)
