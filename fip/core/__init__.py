"""The pure core: domain model and decisions over plain data. No I/O is imported here.

Enforced by the import-linter contract `pure-core` (`.importlinter`).
"""
