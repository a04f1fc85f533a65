"""`python -m tui_recepcion` runs the same CLI as the `tui-recepcion` script."""

import sys

from tui_recepcion.cli import main

# The guard matters: worker processes started with forkserver import the main module again.
if __name__ == "__main__":
    sys.exit(main())
