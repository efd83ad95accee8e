"""`python -m delta_core.train`: see `delta_core.train.cli`."""

import sys

from .cli import main

sys.exit(main())
