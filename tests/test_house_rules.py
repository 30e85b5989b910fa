"""Project-wide rules from DESIGN.md that a grep can check: no hard-coded CUDA, one import root."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIBRARY = [p for d in ("common", "data") for p in (ROOT / d).rglob("*.py")]
ENTRY_DIRS = {"main", "tools", "benchmarks"}  # entry scripts may put the repository root on sys.path


def test_library_exists():
    assert len(LIBRARY) > 50


def test_no_hard_coded_cuda():
    offenders = [f"{p.relative_to(ROOT)}:{i}" for p in LIBRARY + list((ROOT / "main").glob("*.py"))
                 for i, line in enumerate(p.read_text().splitlines(), 1) if re.search(r"\.cuda\(\)", line)]
    assert not offenders, f"hard-coded CUDA transfer found (tensors must follow their inputs' device): {offenders}"


def test_sys_path_edited_only_in_entry_scripts():
    offenders = []
    for p in ROOT.rglob("*.py"):
        rel = p.relative_to(ROOT)
        if rel.parts[0] in {".venv", ".cache", "tests"} or (rel.parts[0] in ENTRY_DIRS and len(rel.parts) == 2):
            continue
        if re.search(r"sys\.path\.(insert|append)", p.read_text()):
            offenders.append(str(rel))
    assert not offenders, f"sys.path edited outside entry scripts: {offenders}"


def test_library_uses_logging_not_print():
    offenders = [f"{p.relative_to(ROOT)}:{i}" for p in LIBRARY
                 for i, line in enumerate(p.read_text().splitlines(), 1)
                 if re.match(r"\s*print\(", line)]
    assert not offenders, f"print() in library code (use logging): {offenders}"
