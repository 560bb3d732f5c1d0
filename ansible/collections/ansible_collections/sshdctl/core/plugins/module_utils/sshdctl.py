# What every sshdctl.core module shares: running the sshdctl installed on the target (local
# mode: the change is sshdctl's own transaction, journaled and validated there) and turning its
# JSON report into an Ansible result. Exit statuses (sshdctl(8)): 0 changed, 3 unchanged,
# anything else a failure whose JSON names the kind, the message and the file:line.
from __future__ import annotations

import json

COMMON_ARGS = dict(
    binary=dict(type="path", default="sshdctl"),
    reason=dict(type="str"),
    confirm_timeout=dict(type="int", default=300),
    window=dict(type="str"),
)


def global_flags(module):
    """The options that go before the verb: JSON, check mode, the dead-man or the window."""
    p = module.params
    flags = ["--json"]
    if module.check_mode:
        flags.append("--dry-run")
    if p.get("reason"):
        flags += ["--reason", p["reason"]]
    if p.get("window"):
        flags += ["--for", p["window"]]
    elif not module.check_mode and p.get("confirm_timeout", 0) > 0:
        # Commit-confirm: the target undoes the change by itself unless sshdctl.core.confirm,
        # run over a fresh connection, keeps it in time.
        flags += ["--confirm-within", "%ds" % p["confirm_timeout"]]
    return flags


def run_json(module, argv, data=None):
    """Runs sshdctl with --json among argv; returns (rc, its JSON report or {}, stdout, stderr)."""
    rc, out, err = module.run_command(argv, data=data, check_rc=False)
    try:
        report = json.loads(out) if out.strip() else {}
    except ValueError:
        report = {}
    return rc, report, out, err


def run(module, verb_args, data=None):
    """Runs sshdctl; returns (status, report). status: 'changed', 'unchanged' or fails the module."""
    argv = [module.params["binary"]] + global_flags(module) + list(verb_args)
    rc, report, out, err = run_json(module, argv, data)
    if rc in (0, 3):
        return ("changed" if rc == 0 else "unchanged"), report
    message = report.get("message") or err.strip() or out.strip() or "sshdctl failed"
    where = report.get("where") or {}
    module.fail_json(msg=message, rc=rc, kind=report.get("kind"), file=where.get("file"), line=where.get("line"),
                     detail=report.get("detail"), report=report, cmd=argv)
    return None, None


def diff_of(reports):
    """Ansible's diff: sshdctl's unified diffs, one per file, prepared."""
    parts = []
    for report in reports:
        for f in report.get("files", []):
            if f.get("diff"):
                parts.append(f["diff"])
    return {"prepared": "\n".join(parts)} if parts else None


def result(module, reports, changed):
    ids = [r.get("id") for r in reports if r.get("id")]
    res = dict(changed=changed, reports=reports, ids=ids, id=ids[0] if len(ids) == 1 else None)
    if module.params.get("window"):
        res["msg"] = "changed; the target reverts it by itself after %s" % module.params["window"] if changed else "unchanged"
    elif changed and not module.check_mode and module.params.get("confirm_timeout", 0) > 0:
        res["msg"] = ("changed; the target undoes it by itself in %d s unless sshdctl.core.confirm keeps it "
                      "(run it after meta: reset_connection)" % module.params["confirm_timeout"])
    else:
        res["msg"] = "changed" if changed else "unchanged"
    if module._diff:
        d = diff_of(reports)
        if d:
            res["diff"] = d
    return res
