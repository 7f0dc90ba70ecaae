"""Briefing's test suite (a package so `python -m tests.regen_golden` works)."""
