"""Email: the SMTP transport (smtp.py) and the messages Hamlet sends, in Vietnamese and English (messages.py)."""
