"""``python -m automation`` (or the ``ghost-gitops`` command): the GitOps engine's command line."""

import sys

try:
    from automation.cli.main import main
except ModuleNotFoundError as exc:  # a Python without the engine's requirements (the system python3, say)
    print(f"error: the Python package {exc.name!r} is not installed for {sys.executable}: run `bash .ci/setup` in the "
          "repository, then use `.venv/bin/ghost-gitops` or `.venv/bin/python -m automation`", file=sys.stderr)
    sys.exit(4)

sys.exit(main())
