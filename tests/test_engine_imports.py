from __future__ import annotations

import subprocess
import sys


def test_extraction_and_store_do_not_import_textual() -> None:
    code = ("import sys; import tui_recepcion.dian.extract, tui_recepcion.dian.samples, tui_recepcion.store, "
            "tui_recepcion.output; assert 'textual' not in sys.modules, 'textual imported'")
    subprocess.run([sys.executable, "-c", code], check=True)
