"""``python -m analysis.probes``."""

import sys

from analysis.probes.cli import main

sys.exit(main())
