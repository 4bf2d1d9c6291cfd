"""`python -m nntrain` runs the command line."""

from nntrain.cli import main

main()
