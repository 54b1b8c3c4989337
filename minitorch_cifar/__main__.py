"""``python -m minitorch_cifar``: the command line (see ``cli``)."""
from .cli import main

raise SystemExit(main())
