"""The command line: the parser and error boundary (:mod:`automation.cli.main`), the commands, their frozen results and
the one renderer. The only layer that sees argparse."""
