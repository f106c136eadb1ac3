"""``python -m automation``: the GitOps engine's command line."""

import sys

from automation.cli import main

sys.exit(main())
