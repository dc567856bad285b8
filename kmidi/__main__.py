"""``python -m kmidi``: the ``kmidi`` command where its console script is not on PATH."""

import sys

from kmidi.cli.main import main

sys.exit(main())
