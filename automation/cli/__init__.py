"""The command line: the parser and error boundary (:mod:`automation.cli.main`), each command's typed options
(:mod:`automation.cli.options`, where the parsed arguments stop), the wiring that builds engines, locks and run
contexts from them (:mod:`automation.cli.wiring`), one module per command group (offline, deploying, personal, day2,
setup), their frozen results and the one renderer (:mod:`automation.cli.output`)."""
