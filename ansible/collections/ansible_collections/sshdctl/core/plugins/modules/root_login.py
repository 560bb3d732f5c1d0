#!/usr/bin/python
# sshdctl.core.root_login: root logon over SSH on or off, through sshdctl.
from __future__ import annotations

DOCUMENTATION = r"""
module: root_login
short_description: Allow or forbid root logon over SSH, with sshdctl
description:
  - C(sshdctl root-login enable|disable) on the target (as root - use C(become)) - root's
    effective PermitRootLogin (and PasswordAuthentication for root only) as asked, one change
    set, validated, journaled, reloaded. With I(password), root's password is set in the same
    change set (hashed as the target's login.defs says; never logged).
  - Confirm as with M(sshdctl.core.config), or give a I(window) (C(2h)) after which the
    target closes root logon again by itself.
version_added: "0.1.0"
options:
  state:
    description: C(enabled) or C(disabled).
    type: str
    choices: [enabled, disabled]
    required: true
  key_only:
    description: With C(enabled) - PermitRootLogin prohibit-password; passwords stay as they are.
    type: bool
    default: false
  password:
    description: With C(enabled) - also set root's password.
    type: str
extends_documentation_fragment:
  - sshdctl.core.common
author: sshdctl maintainers
"""

EXAMPLES = r"""
- sshdctl.core.root_login:
    state: enabled
    password: "{{ vault_root_password }}"
    window: 2h
"""

RETURN = r"""
id:
  description: The change set ID.
  type: str
  returned: changed
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.sshdctl.core.plugins.module_utils.sshdctl import COMMON_ARGS, result, run


def main():
    module = AnsibleModule(
        argument_spec=dict(state=dict(type="str", choices=["enabled", "disabled"], required=True),
                           key_only=dict(type="bool", default=False), password=dict(type="str", no_log=True),
                           **COMMON_ARGS),
        supports_check_mode=True,
    )
    p = module.params
    if p["state"] == "disabled":
        if p["password"] or p["key_only"]:
            module.fail_json(msg="password and key_only go with state=enabled")
        status, report = run(module, ["root-login", "disable"])
    else:
        args = ["root-login", "enable"] + (["--key-only"] if p["key_only"] else [])
        if p["password"]:
            if p["key_only"]:
                module.fail_json(msg="key_only keeps passwords as they are: no password with it")
            args.append("--password-stdin")
        status, report = run(module, args, data=p["password"])
    module.exit_json(**result(module, [report], status == "changed"))


if __name__ == "__main__":
    main()
