"""``python -m hub.commands``: the ``jukihub`` command."""

import sys

from hub.commands.main import main

sys.exit(main())
