"""Add or update Chinese translations without reformatting the whole catalogue, then compile it.

    .venv/bin/python scripts/po_add.py 'English msgid' '中文' ['msgid' '中文' ...]
    .venv/bin/python scripts/po_add.py --json pairs.json       # {"msgid": "中文", ...}

Safe to run from several shells at once (the catalogue is locked while it is rewritten).
`make messages` does the full extract-and-merge; this is for adding a few entries.
"""
from __future__ import annotations

import fcntl
import json
import sys
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

PO = Path(__file__).resolve().parent.parent / "gridsys/translations/zh/LC_MESSAGES/messages.po"


def main(argv: list[str]) -> None:
    if argv[:1] == ["--json"]:
        pairs = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
    else:
        if len(argv) % 2:
            sys.exit("give msgid and translation pairs")
        pairs = dict(zip(argv[::2], argv[1::2]))
    with open(PO.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with open(PO, "rb") as f:
            catalog = read_po(f)
        for msgid, text in pairs.items():
            if msgid in catalog:
                catalog[msgid].string = text
            else:
                catalog.add(msgid, text)
        with open(PO, "wb") as f:
            write_po(f, catalog, no_location=True, width=0, sort_output=False)
        with open(PO.with_suffix(".mo"), "wb") as f:
            write_mo(f, catalog)
    print(f"{len(pairs)} translation(s) written to {PO.name}")


if __name__ == "__main__":
    main(sys.argv[1:])
