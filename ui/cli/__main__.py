"""`python -m ui.cli`: the same as the `seedqa` command."""

from ui.cli import main

main()
