"""What the Pulumi CLI's failures mean to the engine: a busy stack (retried), or one line naming what failed, without
the AWS SDK's warnings; and how to recover a stack a killed run left locked."""

from __future__ import annotations

import re

from automation.model.errors import AutomationError, OperationFailed, StackBusyError

#: What the DIY (file://, s3://) backends say when another update holds the stack's lock.
LOCKED = re.compile(r"the stack is currently locked by \d+ lock\(s\)", re.IGNORECASE)


def recovery_hint(stack: str) -> str:
    return (f"`python -m automation status --stack {stack}` shows who holds the lock; if no other update of {stack} "
            f"is running (for example a run that was killed), `python -m automation recover --stack {stack} --yes` "
            f"clears it (the same as `pulumi cancel --yes --stack {stack}` then "
            f"`pulumi refresh --stack {stack} --clear-pending-creates`, with the same PULUMI_BACKEND_URL)")


def backend_error(what: str, exc: Exception) -> AutomationError:
    text = f"{getattr(exc, 'stderr', '')}\n{exc}"
    if LOCKED.search(text):
        return StackBusyError(f"{what}: the stack is locked by another update")
    return OperationFailed(f"{what}: {error_tail(exc)}")


_SDK_NOISE = re.compile(r"SDK \d{4}/\d\d/\d\d \d\d:\d\d:\d\d WARN [^\n|]*")


def error_tail(exc: Exception, lines: int = 5) -> str:
    """The last lines of a CLI failure for a report, without the AWS SDK's warnings."""
    raw = _SDK_NOISE.sub("", str(getattr(exc, "stderr", "") or exc))
    text = [ln for ln in raw.strip().splitlines() if ln.strip() and ln.strip() not in ("stderr:", "stdout:")]
    return " | ".join(text[-lines:])[:1000]
