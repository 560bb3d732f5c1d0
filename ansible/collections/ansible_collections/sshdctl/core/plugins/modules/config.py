#!/usr/bin/python
# sshdctl.core.config: sshd settings through the sshdctl installed on the target.
from __future__ import annotations

DOCUMENTATION = r"""
module: config
short_description: Make sshd's effective settings what you ask, with sshdctl
description:
  - Runs the C(sshdctl) installed on the target (local mode, as root - use C(become)). The
    settings are one change set - each value goes to the line sshd uses (Include trees and
    drop-ins followed, Match blocks evaluated), the whole tree is validated with C(sshd -T),
    files are replaced atomically, sshd is reloaded through systemd, and the change is kept
    in the target's journal (C(sshdctl history), C(sshdctl revert)).
  - Never locked out - by default the target undoes the change by itself after
    I(confirm_timeout) seconds unless M(sshdctl.core.confirm) keeps it. Run that after
    C(meta reset_connection), so that a fresh SSH connection has to work first; a change
    that locks Ansible out then reverts itself.
  - Check mode is sshdctl's C(--dry-run) (the diff is computed, nothing is written); diff
    mode returns sshdctl's unified diff per file.
version_added: "0.1.0"
options:
  settings:
    description:
      - sshd keywords and their values. A list is one value per item (accumulating keywords
        such as C(AllowUsers), comma lists such as C(Ciphers)). Booleans become yes/no.
      - With I(state=absent), the keywords whose lines are removed (values are ignored).
    type: dict
    required: true
  match:
    description: A Match condition (C(User alice), C(Address 10.0.0.0/8)); the settings go into that block.
    type: str
  state:
    description: C(present) sets the values; C(absent) removes the keywords' lines (sshd's default applies).
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - sshdctl.core.common
author: sshdctl maintainers
"""

EXAMPLES = r"""
- name: Keys only, no root
  sshdctl.core.config:
    settings:
      PasswordAuthentication: "no"
      PermitRootLogin: "no"
      MaxAuthTries: 3
  register: sshd_change
- meta: reset_connection
- sshdctl.core.confirm:
    id: "{{ sshd_change.id }}"
  when: sshd_change.changed
"""

RETURN = r"""
id:
  description: The change set ID (when one change set was made).
  type: str
  returned: changed
ids:
  description: Every change set ID made (I(state=absent) makes one per keyword).
  type: list
  returned: always
reports:
  description: sshdctl's JSON reports (files and their diffs, checks, the reload).
  type: list
  returned: always
"""

import json
import os
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.sshdctl.core.plugins.module_utils.sshdctl import COMMON_ARGS, result, run


def value(v):
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, list):
        return [value(x) for x in v]
    return str(v)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            settings=dict(type="dict", required=True),
            match=dict(type="str"),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            **COMMON_ARGS,
        ),
        supports_check_mode=True,
    )
    p = module.params
    if not p["settings"]:
        module.fail_json(msg="settings is empty")
    reports, changed = [], False
    if p["state"] == "present":
        sshd = {k: value(v) for k, v in p["settings"].items()}
        policy = {"match": [{"condition": p["match"], "sshd": sshd}]} if p["match"] else {"sshd": sshd}
        fd, path = tempfile.mkstemp(prefix="sshdctl-config-", suffix=".yml")
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(policy, f)  # JSON is YAML
            status, report = run(module, ["apply", path])
        finally:
            os.unlink(path)
        reports.append(report)
        changed = status == "changed"
    else:
        for keyword in p["settings"]:
            args = ["unset", keyword] + (["--match", p["match"]] if p["match"] else [])
            status, report = run(module, args)
            reports.append(report)
            changed = changed or status == "changed"
    module.exit_json(**result(module, reports, changed))


if __name__ == "__main__":
    main()
