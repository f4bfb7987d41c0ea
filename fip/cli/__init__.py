"""Operator command-line tools."""
