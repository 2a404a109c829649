"""``python -m gateproof``: the CLI, loaded once as ``gateproof.cli``.

Running ``python -m gateproof.cli`` instead would load the CLI module twice
(as ``__main__`` and as ``gateproof.cli``), so the commands' ``UsageError``
would not be the class ``main()`` catches.
"""

import sys

from gateproof.cli import main

sys.exit(main())
