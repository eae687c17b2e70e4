"""``python -m analysis.provenance``."""

import sys

from analysis.provenance.cli import main

sys.exit(main())
