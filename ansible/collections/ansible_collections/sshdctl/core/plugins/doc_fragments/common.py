# The options every change module of sshdctl.core shares (module_utils/sshdctl.py COMMON_ARGS).
from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  confirm_timeout:
    description:
      - Seconds the change has to be confirmed by M(sshdctl.core.confirm), run after
        C(meta reset_connection); 0 keeps it at once (no protection against a lock-out).
    type: int
    default: 300
  window:
    description:
      - A maintenance window instead (C(2h), C(30m)) - the target undoes the change by itself
        after it. I(confirm_timeout) is then not used; do not confirm a window (that keeps it).
    type: str
  reason:
    description: Why - kept with the change set in the target's journal.
    type: str
  binary:
    description: The sshdctl to run on the target.
    type: path
    default: sshdctl
"""
