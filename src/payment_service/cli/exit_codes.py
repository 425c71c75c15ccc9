"""The console script's exit statuses, shared by every subcommand."""

EXIT_OK = 0
EXIT_FAILURE = 1  # the command ran and failed, or found failures
EXIT_USAGE = 2  # bad arguments or settings (argparse exits with 2 too)
