"""What the platform keeps: the home folder, the SQLite store, endpoint records and their
rules, registered models, tokens, and the live in-memory view of it all."""
