"""The dependency direction of ARCHITECTURE.md, enforced by reading every import."""

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FORBIDDEN = {
    "dockscan": {"edge", "gateway", "firmware_sim"},
    "edge": {"gateway", "firmware_sim"},
    "gateway": {"edge", "firmware_sim"},
    "firmware_sim": {"edge", "gateway"},
}
SIM_ALLOWED_CORE = {"dockscan.config", "dockscan.logs", "dockscan.errors"}


def imports_of(path: Path) -> set[str]:
    """Return every module name imported by a Python file (absolute imports)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _sim_may_import(name: str) -> bool:
    """Return whether firmware_sim may import this dockscan module (never the schema)."""
    return any(name == ok or name.startswith(ok + ".") for ok in SIM_ALLOWED_CORE)


def test_packages_respect_the_dependency_direction() -> None:
    problems = []
    for package, banned in FORBIDDEN.items():
        files = list((REPO / package).rglob("*.py"))
        assert files, f"no files found in {package}"
        for path in files:
            for name in imports_of(path):
                top = name.split(".")[0]
                if top in banned:
                    problems.append(f"{path.relative_to(REPO)} imports {name}")
                if package == "firmware_sim" and top == "dockscan" and not _sim_may_import(name):
                    problems.append(f"{path.relative_to(REPO)} imports {name} (schema-free)")
    assert not problems, "\n".join(problems)


def test_checker_sees_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from gateway.store import Store\nimport edge.station\n")
    assert imports_of(bad) == {"gateway.store", "edge.station"}
