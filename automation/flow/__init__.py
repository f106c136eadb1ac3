"""The GitOps flow: CI events parsed into a request, the planner (branch -> stack operations), the runner with its
gates (budget, policy, reviewed plan, rollback guard, supersession), publishing reports, version support issues.
Imports every layer below; nothing of the cli."""
