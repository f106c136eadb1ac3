"""Stand-ins for what cannot be had on these machines, each named as one and doing no more than the real thing."""
