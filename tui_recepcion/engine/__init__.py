"""The engine: one pass over a mailbox (pipeline, extraction workers), the service loop
that repeats it, and the lock that keeps one process per account. It never imports Textual."""
