"""tui-recepcion: reception of Colombian electronic invoices (DIAN) by email."""

__version__ = "0.1.0"
