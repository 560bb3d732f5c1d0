#!/usr/bin/python
# sshdctl.core.confirm: keep changes made by sshdctl.core.config/policy/root_login.
from __future__ import annotations

DOCUMENTATION = r"""
module: confirm
short_description: Keep sshdctl changes - proof that a fresh SSH connection works
description:
  - Runs C(sshdctl confirm ID) on the target for each change set, which stops its timer; the
    change stays. Without it the target undoes the change by itself when its confirm timeout
    runs out.
  - Run it after C(meta reset_connection) - Ansible then has to open a fresh SSH connection,
    with the new sshd settings live, to get here. If the change locked Ansible out, this task
    cannot run (the host is unreachable) and the target reverts the change by itself.
version_added: "0.1.0"
options:
  id:
    description: A change set ID (C(result.id) of the change). Give I(id) or I(ids).
    type: str
  ids:
    description: Several change set IDs (C(result.ids)).
    type: list
    elements: str
  binary:
    description: The sshdctl to run on the target.
    type: path
    default: sshdctl
author: sshdctl maintainers
"""

EXAMPLES = r"""
- meta: reset_connection
- sshdctl.core.confirm:
    ids: "{{ sshd_change.ids }}"
  when: sshd_change.changed
"""

RETURN = r"""
confirmed:
  description: The change sets kept.
  type: list
  returned: always
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.sshdctl.core.plugins.module_utils.sshdctl import run_json


def main():
    module = AnsibleModule(
        argument_spec=dict(id=dict(type="str"), ids=dict(type="list", elements="str"),
                           binary=dict(type="path", default="sshdctl")),
        required_one_of=[["id", "ids"]],
        supports_check_mode=True,
    )
    ids = ([module.params["id"]] if module.params["id"] else []) + (module.params["ids"] or [])
    ids = [i for i in ids if i]
    if module.check_mode:
        module.exit_json(changed=bool(ids), confirmed=[], msg="check mode: would confirm %s" % ", ".join(ids))
    confirmed = []
    for change in ids:
        rc, report, out, err = run_json(module, [module.params["binary"], "--json", "confirm", change])
        if rc != 0:
            module.fail_json(msg="change set %s: %s" % (change, report.get("message") or err.strip() or out.strip()),
                             rc=rc, confirmed=confirmed, report=report)
        confirmed.append(change)
    module.exit_json(changed=bool(confirmed), confirmed=confirmed,
                     msg="kept: %s" % ", ".join(confirmed) if confirmed else "nothing to confirm")


if __name__ == "__main__":
    main()
