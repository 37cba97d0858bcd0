"""`python -m semslam` is the `semslam` command."""

from .cli import main

main()
