"""Mailboxes: connecting to IMAP, POP3 and SMTP servers, and the message sources the engine
reads from and disposes into (IMAP folders, POP3 forward-and-delete, a local Maildir)."""
