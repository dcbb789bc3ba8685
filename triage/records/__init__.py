"""What is kept: the store package (SQLite, PostgreSQL, audit chain), drafts, exports, invitations, staff accounts, backups, record requests and uploaded files.

A layer of the design (README.md, How it works); tests/whole/test_architecture.py checks that it imports
nothing from a layer above it."""
