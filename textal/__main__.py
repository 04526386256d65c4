"""``python -m textal``."""

import sys

from textal.cli import main

sys.exit(main())
