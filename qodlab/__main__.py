"""`python -m qodlab` is the `qodlab` command."""

import sys

from .cli import main

sys.exit(main())
