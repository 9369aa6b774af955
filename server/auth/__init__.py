"""Who is calling (tokens, sessions, passwords) and what they may do (roles and verbs)."""
