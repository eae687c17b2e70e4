"""``python -m analysis.codesim``."""

import sys

from analysis.codesim.cli import main

sys.exit(main())
