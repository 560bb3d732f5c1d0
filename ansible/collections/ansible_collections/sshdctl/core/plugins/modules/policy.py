#!/usr/bin/python
# sshdctl.core.policy: an sshdctl policy (YAML) applied on the target, as one change set.
from __future__ import annotations

DOCUMENTATION = r"""
module: policy
short_description: Make the target as an sshdctl policy says
description:
  - Runs C(sshdctl apply) with the sshdctl installed on the target (as root - use C(become)).
    The policy (sshd settings, Match blocks, users' keys and passwords, a window) is one
    change set, validated with C(sshd -T), journaled, reloaded through systemd.
  - By default the target undoes it by itself after I(confirm_timeout) seconds unless
    M(sshdctl.core.confirm), run after C(meta reset_connection), keeps it. Check mode and
    diff mode as in M(sshdctl.core.config).
version_added: "0.1.0"
options:
  src:
    description: A policy file on the target. Exactly one of I(src) and I(content).
    type: path
  content:
    description: The policy itself (YAML text, or a dict).
    type: raw
extends_documentation_fragment:
  - sshdctl.core.common
author: sshdctl maintainers
"""

EXAMPLES = r"""
- sshdctl.core.policy:
    src: /usr/share/doc/sshdctl/examples/policies/baseline.yml
  register: baseline
- meta: reset_connection
- sshdctl.core.confirm:
    id: "{{ baseline.id }}"
  when: baseline.changed
"""

RETURN = r"""
id:
  description: The change set ID.
  type: str
  returned: changed
reports:
  description: sshdctl's JSON report.
  type: list
  returned: always
"""

import json
import os
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_text
from ansible_collections.sshdctl.core.plugins.module_utils.sshdctl import COMMON_ARGS, result, run


def main():
    module = AnsibleModule(
        argument_spec=dict(src=dict(type="path"), content=dict(type="raw"), **COMMON_ARGS),
        mutually_exclusive=[["src", "content"]],
        required_one_of=[["src", "content"]],
        supports_check_mode=True,
    )
    p = module.params
    path, made = p["src"], None
    if p["content"] is not None:
        text = p["content"] if isinstance(p["content"], str) else json.dumps(p["content"])
        fd, made = tempfile.mkstemp(prefix="sshdctl-policy-", suffix=".yml")
        with os.fdopen(fd, "w") as f:
            f.write(to_text(text))
        path = made
    try:
        status, report = run(module, ["apply", path])
    finally:
        if made:
            os.unlink(made)
    module.exit_json(**result(module, [report], status == "changed"))


if __name__ == "__main__":
    main()
