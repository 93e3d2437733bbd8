"""Allow ``python -m mlops_kit``."""

import sys

from .cli import main

sys.exit(main())
