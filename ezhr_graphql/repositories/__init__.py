"""Queries only: repositories never commit and never swallow exceptions."""
