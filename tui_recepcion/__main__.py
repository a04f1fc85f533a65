"""`python -m tui_recepcion` runs the same CLI as the `tui-recepcion` script."""

import sys

from tui_recepcion.cli import main

sys.exit(main())
