"""What the Pulumi CLI runs for this pack: ``python -u -m pulumi.policy <engine address> .`` in this directory
(through the analyzer launcher ``pulumi-analyzer-policy-python`` that .ci/build-pulumi writes). It serves the
pack over gRPC until the CLI stops it."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the project root: `policypack` is a package

from policypack.crossguard import serve

serve()
