"""``python -m grid``: see :mod:`grid.cli`."""

from grid.cli import main

raise SystemExit(main())
