#!/usr/bin/python
# sshdctl.core.key: a public key in a user's authorized_keys, where sshd looks for it.
from __future__ import annotations

DOCUMENTATION = r"""
module: key
short_description: A user's public key where sshd looks for it, with sshdctl
description:
  - C(sshdctl key add|remove) on the target (as root - use C(become)). The key goes to the
    user's effective AuthorizedKeysFile (Match blocks applied; %h, %u, %U expanded), mode
    0600 and owned by the user, as one change set in the target's journal; a key already there
    is left as it is. Modes and owners that would make sshd ignore the keys (StrictModes) are
    refused unless I(fix_perms).
  - Confirm as with M(sshdctl.core.config) (a key that is the only way in can lock Ansible out
    when it is removed), or give a I(window) after which the target undoes the change itself.
version_added: "0.1.0"
options:
  user:
    description: The account.
    type: str
    required: true
  state:
    description: C(present) adds the key; C(absent) removes the keys that match.
    type: str
    choices: [present, absent]
    default: present
  key:
    description: The public key line (C(ssh-ed25519 AAAA... comment)). Required for C(present).
    type: str
  options:
    description: authorized_keys options for C(present), e.g. C(from="10.0.0.0/8",no-port-forwarding).
    type: str
  fix_perms:
    description: Repair modes and owners that make sshd ignore the keys, instead of refusing.
    type: bool
    default: false
  fingerprint:
    description: For C(absent) - the key's SHA256 fingerprint, as ssh-keygen -l shows it.
    type: str
  comment:
    description: For C(absent) - the key's comment, exactly.
    type: str
extends_documentation_fragment:
  - sshdctl.core.common
author: sshdctl maintainers
"""

EXAMPLES = r"""
- sshdctl.core.key:
    user: alice
    key: "{{ lookup('file', 'alice.pub') }}"
    options: 'from="10.0.0.0/8"'
  register: alice_key
- meta: reset_connection
- sshdctl.core.confirm:
    ids: "{{ alice_key.ids }}"
  when: alice_key.changed
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

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.sshdctl.core.plugins.module_utils.sshdctl import COMMON_ARGS, result, run


def main():
    module = AnsibleModule(
        argument_spec=dict(user=dict(type="str", required=True),
                           state=dict(type="str", choices=["present", "absent"], default="present"),
                           key=dict(type="str", no_log=False), options=dict(type="str"),
                           fix_perms=dict(type="bool", default=False), fingerprint=dict(type="str"),
                           comment=dict(type="str"), **COMMON_ARGS),
        required_if=[["state", "present", ["key"]], ["state", "absent", ["key", "fingerprint", "comment"], True]],
        supports_check_mode=True,
    )
    p = module.params
    if p["state"] == "present":
        args = ["key", "add", p["user"], "--pubkey", "-"]
        if p["options"]:
            args += ["--options", p["options"]]
        if p["fix_perms"]:
            args.append("--fix-perms")
        status, report = run(module, args, data=p["key"].strip())
    else:
        args = ["key", "remove", p["user"]]
        data = None
        if p["key"]:
            args += ["--pubkey", "-"]
            data = p["key"].strip()
        if p["fingerprint"]:
            args += ["--fingerprint", p["fingerprint"]]
        if p["comment"]:
            args += ["--comment", p["comment"]]
        status, report = run(module, args, data=data)
    module.exit_json(**result(module, [report], status == "changed"))


if __name__ == "__main__":
    main()
