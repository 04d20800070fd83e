"""``python -m deepsets`` is the ``deepsets`` command."""

from deepsets.cli import entry

entry()
