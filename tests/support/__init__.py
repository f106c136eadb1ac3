"""What the tests share: paths to the data, the program's synth, tier checks, local servers (GitHub, health), git
repositories, the real tools' harnesses (CLI, MariaDB, control plane, act) and the stand-ins. Benchmarks import
from here only, never from a test module."""
