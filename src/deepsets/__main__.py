"""``python -m deepsets`` is the ``deepsets`` command."""

import sys

from deepsets.cli import main

sys.exit(main())
