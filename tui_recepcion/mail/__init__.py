"""The processing engine: message sources, SMTP, the pipeline and its events.

Nothing under this package imports Textual; the TUI drives it through callbacks.
"""
