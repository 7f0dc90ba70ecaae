"""`python -m generator` runs the `briefing` command."""

from generator.cli import run

run()
