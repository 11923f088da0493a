"""``python -m tests.replicate_server``: see tests.replicate_server.cli."""

import sys

from tests.replicate_server.cli import main

sys.exit(main())
