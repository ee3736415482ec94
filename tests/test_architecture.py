"""The import contracts of .importlinter hold: domains depend one way (zones <- people <- incidents
<- boundaries/map), the shared bottom imports no domain, domain rules import no Flask, and no
domain has an import cycle. import-linter reads the imports, function-level ones included."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LINT = [str(Path(sys.executable).with_name("lint-imports")), "--no-cache"]   # installed with the test extra


def lint(config: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*LINT, "--config", str(config)], cwd=REPO, capture_output=True, text=True, timeout=120)


def test_the_import_contracts_hold():
    result = lint(REPO / ".importlinter")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def test_the_check_sees_an_import_that_breaks_a_contract(tmp_path):
    """A contract the code breaks on purpose (incidents do import people) is reported broken."""
    config = tmp_path / "broken.ini"
    config.write_text("[importlinter]\nroot_package = gridsys\n\n[importlinter:contract:x]\nname = x\n"
                      "type = forbidden\nsource_modules =\n    gridsys.incidents.routing\n"
                      "forbidden_modules =\n    gridsys.people\n")
    result = lint(config)
    assert result.returncode != 0 and "BROKEN" in result.stdout
