#!/usr/bin/env python3
"""Differential runner: sshdctl's effective values against `sshd -T` on generated trees.

Each worker process enters a private mount namespace and bind-mounts its own directory
WORK/wN/etc/ssh over /etc/ssh, so that sshd resolves the tree's absolute Include paths in the
tree; sshdctl reads the same directory through an FsHost rooted at WORK/wN (driver.cpp). The
real /etc/ssh is never written. See README.md.
"""

import argparse
import ctypes
import difflib
import hashlib
import multiprocessing
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen  # noqa: E402
import normalise as norm  # noqa: E402

SSHD = "/usr/sbin/sshd"
KEYFILES = ["ssh_host_ed25519_key", "ssh_host_ecdsa_key", "ssh_host_rsa_key"]
# Defaults compared on every tree (sshdctl must say "default" exactly when sshd uses its default).
DEFAULT_SAMPLE = ["PermitRootLogin", "PasswordAuthentication", "KbdInteractiveAuthentication", "PubkeyAuthentication",
                  "X11Forwarding", "AllowTcpForwarding", "MaxAuthTries", "LoginGraceTime", "ClientAliveInterval",
                  "UsePAM", "PrintMotd", "LogLevel", "AuthorizedKeysFile", "Banner", "PubkeyAcceptedAlgorithms",
                  "Ciphers", "HostKey", "Port", "ListenAddress", "AddressFamily", "MaxSessions", "PermitTunnel",
                  "GatewayPorts", "UseDNS", "StrictModes", "IgnoreRhosts", "RekeyLimit", "MaxStartups"]
# Edits draw their values from the generator's valid values.
EDIT_KEYWORDS = sorted(k for k in gen.VALUES if k not in ("AuthorizedKeysCommand", "AuthorizedKeysCommandUser"))
ALIAS_OF = {a.lower(): b.lower() for a, b in gen.ALIASES}


# ---- the private mount namespace --------------------------------------------------------
_libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNS, MS_BIND, MS_REC, MS_PRIVATE = 0x00020000, 4096, 16384, 262144


def _check(rc, what):
    if rc != 0:
        e = ctypes.get_errno()
        raise OSError(e, "%s: %s" % (what, os.strerror(e)))


def enter_private_etc_ssh(source):
    """This process (single-threaded) gets its own mount namespace with `source` on /etc/ssh."""
    _check(_libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    _check(_libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "mount --make-rprivate /")
    _check(_libc.mount(source.encode(), b"/etc/ssh", None, MS_BIND, None), "bind mount over /etc/ssh")
    if not os.path.samestat(os.stat("/etc/ssh"), os.stat(source)):
        raise RuntimeError("/etc/ssh is not the private tree after the bind mount")


# ---- trees on disk ----------------------------------------------------------------------
def write_tree(root, files):
    """Replaces the config files under ROOT/etc/ssh by `files` (target path -> bytes); the host
    keys stay. Also drops what a CLI run left (journal) elsewhere in ROOT."""
    etc = os.path.join(root, "etc/ssh")
    for name in os.listdir(etc):
        if name.startswith("ssh_host_"):
            continue
        p = os.path.join(etc, name)
        shutil.rmtree(p) if os.path.isdir(p) and not os.path.islink(p) else os.unlink(p)
    for name in os.listdir(root):
        if name != "etc":
            shutil.rmtree(os.path.join(root, name))
    for path, data in files.items():
        real = os.path.join(root, path.lstrip("/"))
        os.makedirs(os.path.dirname(real), exist_ok=True)
        with open(real, "wb") as f:
            f.write(data)


def read_tree(root):
    out = {}
    etc = os.path.join(root, "etc/ssh")
    for d, _, names in os.walk(etc):
        for n in names:
            if n.startswith("ssh_host_"):
                continue
            p = os.path.join(d, n)
            with open(p, "rb") as f:
                out["/" + os.path.relpath(p, root)] = f.read()
    return out


# ---- the two sides ----------------------------------------------------------------------

_ESCAPES = {"\\\\": "\\", "\\t": "\t", "\\n": "\n", "\\r": "\r"}


def unescape(f):
    """A driver answer's field as the engine has it (driver.cpp escapes \\, TAB, CR, LF)."""
    return re.sub(r"\\[\\tnr]", lambda m: _ESCAPES[m.group(0)], f)


class Driver:
    """The sshdctl side: one sshdctl_diff_driver process (see driver.cpp for the protocol)."""

    def __init__(self, path, lenses):
        self.p = subprocess.Popen([path, lenses], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                  bufsize=1)

    def ask(self, *fields):
        self.p.stdin.write("\t".join(fields) + "\n")
        self.p.stdin.flush()
        lines = []
        while True:
            line = self.p.stdout.readline()
            if line == "":
                raise RuntimeError("sshdctl_diff_driver died")
            line = line.rstrip("\n")
            if line == ".":
                return [[unescape(f) for f in ln.split("\t")] for ln in lines]
            lines.append(line)

    @staticmethod
    def error(reply):
        for r in reply:
            if r[0] == "error":
                return r
        return None

    def resolve(self, spec, keys):
        reply = self.ask("resolve", spec or "-", *keys)
        err = self.error(reply)
        if err:
            raise RuntimeError("driver: %s" % "\t".join(err))
        return {r[1]: (int(r[2]), r[4:], r[3] == "1") for r in reply if r[0] == "val"}


def sshd_t():
    r = subprocess.run([SSHD, "-t", "-f", "/etc/ssh/sshd_config"], capture_output=True, text=True)
    return r.returncode, r.stderr


# sshd -T -C cannot answer for a connection that lacks a detail a Match line asks for.
INCOMPLETE_SPEC = "not in connection test specification"


def sshd_T(spec):
    args = [SSHD, "-T", "-f", "/etc/ssh/sshd_config"] + (["-C", spec] if spec else [])
    r = subprocess.run(args, capture_output=True, text=True)
    return r.returncode, r.stdout, r.stderr


def sshd_location(stderr):
    """(file, line) that sshd's complaint names, if any."""
    m = re.search(r"(/\S+?):? line (\d+)", stderr)
    return (m.group(1), int(m.group(2))) if m else None


# ---- connections ------------------------------------------------------------------------
def random_spec(rng, complete=False):
    """A connection for sshd -T -C; `complete`: with laddr, lport and rdomain too."""
    user = rng.choice(gen.USERS)
    addr = rng.choice(gen.ADDRS)
    host = rng.choice(gen.HOSTS + [addr])
    parts = ["user=" + user, "host=" + host, "addr=" + addr]
    if complete or rng.random() < 0.7:
        parts.append("laddr=" + rng.choice(gen.LADDRS))
    if complete or rng.random() < 0.7:
        parts.append("lport=" + rng.choice(gen.LPORTS))
    if complete or rng.random() < 0.5:
        parts.append("rdomain=" + rng.choice(gen.RDOMAINS))
    return ",".join(parts)


# ---- judging ----------------------------------------------------------------------------
class Disagreement:
    def __init__(self, kind, key, spec, sshd, ours, detail=""):
        self.kind, self.key, self.spec, self.sshd, self.ours, self.detail = kind, key, spec, sshd, ours, detail

    def signature(self):
        return (self.kind, self.key, self.spec)

    def __str__(self):
        s = "%s %s [%s]: sshd %r, sshdctl %r" % (self.kind, self.key, self.spec or "no -C", self.sshd, self.ours)
        return " ".join((s + ("; " + self.detail if self.detail else "")).split())


class Judge:
    def __init__(self, driver, cli, root, baseline):
        self.driver, self.cli, self.root, self.baseline = driver, cli, root, baseline

    def tree_keys(self):
        reply = self.driver.ask("keys")
        keys = [r[1] for r in reply if r[0] == "key" and r[1] != "Include"]
        unknown = [r[1] for r in reply if r[0] == "unknown"]
        return keys, unknown

    def compare(self, spec, keys, sshd_out):
        """Disagreements between sshd -T's output and the driver for one connection."""
        sshd = norm.parse_sshd_T(sshd_out)
        ours = self.driver.resolve(spec, keys + ["Port", "ListenAddress", "AddressFamily"])
        found = []
        for key in keys:
            nsrc, words, from_match = ours[key]
            theirs = norm.sshd_value(sshd, key)
            if key == "ListenAddress":
                want = norm.listen_addresses(words, ours["Port"][1], (ours["AddressFamily"][1] or ["any"])[0])
            else:
                want = self.expected_of(key, ours[key])
            if theirs != want:
                found.append(Disagreement("value", key, spec, theirs, want, "sshdctl sources %d" % nsrc))
        return found, sshd, ours

    def expected_of(self, key, resolved):
        """What sshd -T must print for `key`, given the driver's (sources, words, from_match)."""
        nsrc, words, from_match = resolved
        if nsrc == 0:
            return norm.sshd_value(self.baseline, key)  # sshdctl says: sshd's default
        return norm.expected(key, words, from_match)

    def check(self, specs, extra_keys=()):
        """Loads the tree on both sides and compares every connection. Returns (accepted by sshd,
        disagreements, per-spec sshd dicts, per-spec driver values, keys); for a tree sshd
        refuses, (False, [], sshd's complaint, the connection refused or None, None)."""
        # The first spec names every detail, so sshd -T -C answers for any valid tree: its
        # failure means sshd refuses the tree (sshd -t then says why, with file:line).
        first = sshd_T(specs[0])
        if first[0] != 0:
            rc, err = sshd_t()
            if rc != 0:
                return False, [], err, None, None
            # sshd -t passes but the re-read every connection makes fails (an Include that
            # recurses only there: tests/fixtures/differential/refuses-valid-tree-169): sshd
            # would refuse every login, so a refusal is what sshdctl must answer.
            if INCOMPLETE_SPEC not in first[2]:
                return False, [], first[2], specs[0], None
        reply = self.driver.ask("load", self.root)
        e = self.driver.error(reply)
        if e:
            return True, [Disagreement("refuses-valid", "-", None, "accepted", "refused", "\t".join(e[1:]))], \
                None, None, None
        keys, unknown = self.tree_keys()
        found = [Disagreement("unknown-keyword", u, None, "accepted", "unknown") for u in unknown]
        keys = list(dict.fromkeys(keys + [k for k in DEFAULT_SAMPLE if k not in keys] + list(extra_keys)))
        sshd_by, ours_by = {}, {}
        for spec in specs:
            rc, out, err = first if spec == specs[0] else sshd_T(spec)
            if rc != 0:
                if INCOMPLETE_SPEC not in err:
                    # The re-read fails for this connection only (inside a Match block it
                    # meets): sshd refuses those logins, so a refusal is what sshdctl must
                    # answer, as for the first connection (which the reduction and the
                    # replay then take this one for).
                    return False, [], err, spec, None
                continue
            f, sshd_by[spec], ours_by[spec] = self.compare(spec, keys, out)
            found += f
        return True, found, sshd_by, ours_by, keys

    # -- edits --
    def edit(self, rng, keys, specs, sshd_before, ours_before, before_files):
        """One random edit through the engine; returns (description, disagreements)."""
        r = rng.random()
        if r < 0.5:
            kw = rng.choice(keys if keys and rng.random() < 0.6 else EDIT_KEYWORDS).split(":")[0]
            if kw not in gen.VALUES:
                kw = rng.choice(EDIT_KEYWORDS)
            value = gen.VALUES[kw](rng).split(" ")
            verb = ["set", kw] + value
        elif r < 0.8 and keys:
            kw = rng.choice(keys)
            verb = ["unset"] + kw.split(":")
        else:
            verb = ["root-login", rng.choice(["enable", "disable"])]
        desc = " ".join(verb)
        # Whether a Match block decides the keyword is a question about the tree before the
        # edit (as in the replay's judge_after): asked now, while the driver holds that tree.
        match = {spec: self.match_before(spec, verb) for spec in sshd_before}
        reply = self.driver.ask(*verb)
        err = self.driver.error(reply)
        if err:
            # The engine declines (e.g. a value its catalog refuses): nothing may have been written.
            after = read_tree(self.root)
            if after != before_files:
                return desc, [Disagreement("edit-wrote-on-error", verb[1], None, "", "\t".join(err[1:]))]
            if err[1] in ("bad-input", "unsupported"):
                return desc, []
            return desc, [Disagreement("edit-error", verb[1], None, "", "\t".join(err[1:]))]
        after_files = read_tree(self.root)
        found = self.minimal_diff(verb, before_files, after_files)
        first = sshd_T(specs[0])
        if first[0] != 0:
            rc, serr = sshd_t()
            if rc != 0:
                # A valid value that conflicts with another setting (AuthenticationMethods with
                # a disabled method): the CLI's sshd -t step refuses such a change and writes
                # nothing, so only the lines written are judged.
                return desc, found
        reply = self.driver.ask("load", self.root)
        e = self.driver.error(reply)
        if e:
            return desc, found + [Disagreement("edit-does-not-reparse", verb[1], None, "", "\t".join(e[1:]))]
        cli_refused = None
        for spec in sshd_before:
            rc, out, serr = first if spec == specs[0] else sshd_T(spec)
            if rc != 0:
                if INCOMPLETE_SPEC not in serr:
                    # The edit breaks the re-read for this connection only: the CLI, which
                    # checks a connection per Match block, must refuse it (the engine alone
                    # does not ask sshd).
                    if cli_refused is None:
                        cli_refused = self.cli_refuses(before_files, desc)
                    if cli_refused is not True:
                        found.append(Disagreement("sshd-C-failed", "-", spec, serr.strip(), cli_refused or "", desc))
                continue
            found += self.judge_edit(verb, spec, sshd_before[spec], norm.parse_sshd_T(out), ours_before[spec],
                                     match[spec], self.after_view(spec, verb))
        return desc, found

    def cli_refuses(self, before_files, desc):
        """True when `sshdctl --root … --no-reload DESC` on the tree before the edit is refused by
        its sshd check (exit 4) with nothing written; else what it did. The tree after the edit
        is put back."""
        if not self.cli:
            return "no CLI to ask"
        after = read_tree(self.root)
        write_tree(self.root, before_files)
        r = subprocess.run([self.cli, "--root", self.root, "--no-reload"] + desc.split(" "), capture_output=True,
                           text=True)
        wrote = read_tree(self.root) != before_files
        write_tree(self.root, after)
        if r.returncode == 4 and not wrote:
            return True
        return "cli exit %d%s: %s" % (r.returncode, ", files changed" if wrote else "",
                                       (r.stdout + r.stderr).strip()[-200:])

    @staticmethod
    def edited_keyword(verb):
        return verb[1] if verb[1] != "Subsystem" or len(verb) < 3 else "Subsystem:" + verb[2]

    def match_before(self, spec, verb):
        """(from_match's answer, what the other blocks add) for a set/unset; None otherwise."""
        if verb[0] not in ("set", "unset") or spec is None:
            return None
        return self.from_match(spec, self.edited_keyword(verb))

    def after_view(self, spec, verb):
        """For an unset, asked while the driver holds the tree after the edit: (from_match's
        answer, the driver's (sources, words, from_match) for the keyword); None otherwise."""
        if verb[0] != "unset" or spec is None:
            return None
        kw = self.edited_keyword(verb)
        return self.from_match(spec, kw), self.driver.resolve(spec, [kw])[kw]

    def judge_edit(self, verb, spec, before, after, ours_before, match=None, after_view=None):
        """`match`: match_before's answer for the tree before the edit; asked of the driver's
        tree when not given (the replay loads the tree before the edit for that). `after_view`:
        after_view's answer for the tree after it."""
        changed = set()
        found = []
        user = dict(p.split("=", 1) for p in spec.split(",")).get("user") if spec else None
        if verb[0] in ("set", "unset"):
            kw = self.edited_keyword(verb)
            name = norm.sshd_name(kw)
            changed = {name}
            if name in ("port", "listenaddress", "addressfamily"):
                changed |= {"port", "listenaddress", "addressfamily"}
            if match is None:
                match = self.match_before(spec, verb)
            in_match, mixed_rest = match or ("no", [])
            theirs = norm.sshd_value(after, kw)
            if in_match == "mixed" and verb[0] == "unset":
                want = norm.expected(kw, mixed_rest, from_match=True)
                why = "what the other Match blocks add stays (the 'Match all' lines go)"
            elif in_match == "mixed":
                want = theirs  # the new value and the other blocks' lines: judged by the value check
                why = "a 'Match all' line and other blocks add to it"
            elif in_match == "yes":
                want = norm.sshd_value(before, kw)
                why = "a Match block decides it for this connection: unchanged"
            elif verb[0] == "set":
                words = verb[2:] if not kw.startswith("Subsystem:") else verb[3:]
                if name == "listenaddress" or name in ("port", "addressfamily"):
                    want = theirs  # judged through the unchanged rest and sshd's own acceptance
                else:
                    want = theirs if norm.set_took_effect(kw, words, theirs) else norm.expected(kw, words)
                why = "the set value"
            elif after_view and after_view[0][0] == "yes" and name != "listenaddress":
                # The unset took a `Match all` line that came first; a later block that meets
                # this connection decides now: sshdctl's value for the tree after, as sshd's.
                want = self.expected_of(kw, after_view[1])
                why = "a later Match block decides it once the 'Match all' line is gone"
            else:
                want = norm.sshd_value(self.baseline, kw) if name != "listenaddress" else theirs
                why = "sshd's default after unset"
            if theirs != want:
                found.append(Disagreement("edit-effect", kw, spec, theirs, want, " ".join(verb) + ": " + why))
        else:
            changed = {"permitrootlogin"}
            if user == "root":
                want_permit = "yes" if verb[1] == "enable" else "no"
                if after.get("permitrootlogin") != [want_permit]:
                    found.append(Disagreement("edit-effect", "PermitRootLogin", spec, after.get("permitrootlogin"),
                                              [want_permit], " ".join(verb)))
                if verb[1] == "enable" and after.get("passwordauthentication") != ["yes"]:
                    found.append(Disagreement("edit-effect", "PasswordAuthentication", spec,
                                              after.get("passwordauthentication"), ["yes"], " ".join(verb)))
                changed.add("passwordauthentication")
        for key in sorted(set(before) | set(after)):
            if key in changed or ALIAS_OF.get(key) in changed:
                continue
            if before.get(key) != after.get(key):
                found.append(Disagreement("edit-side-effect", key, spec, after.get(key), before.get(key),
                                          " ".join(verb) + " changed another option"))
        return found

    def from_match(self, spec, kw):
        """yes: a Match block (not `Match all`) decides kw for spec; no; or mixed (an accumulating
        keyword both add to), with what the other blocks add (for mixed)."""
        reply = self.driver.ask("from-match", spec, kw)
        for r in reply:
            if r[0] == "mixed":
                return "mixed", list(r[1:])
            if r[0] == "yes":
                return "yes", []
        return "no", []

    @staticmethod
    def minimal_diff(verb, before, after):
        """Every added or removed line must be one the edit needs."""
        if verb[0] == "root-login":
            ok = re.compile(r"^\s*((permitrootlogin|passwordauthentication)\b.*|match\s+user\s+root\s*)?\r?$", re.I)
        else:
            names = {verb[1].lower()} | {a for a, b in ALIAS_OF.items() if b == verb[1].lower()} | \
                {b for a, b in ALIAS_OF.items() if a == verb[1].lower()}
            ok = re.compile(r"^\s*((%s)(\s|=).*)?\r?$" % "|".join(map(re.escape, names)), re.I)
        found = []
        for path in sorted(set(before) | set(after)):
            a = before.get(path, b"").decode(errors="replace").split("\n")
            b = after.get(path, b"").decode(errors="replace").split("\n")
            for line in difflib.ndiff(a, b):
                if line[:2] in ("+ ", "- ") and not ok.match(line[2:]):
                    found.append(Disagreement("edit-extra-line", verb[1], None, "", line.rstrip("\r"),
                                              path + ": " + " ".join(verb)))
        return found


# ---- one tree ---------------------------------------------------------------------------
def tree_seed(seed, index):
    return int.from_bytes(hashlib.sha256(b"%d/%d" % (seed, index)).digest()[:8], "little")


class Worker:
    def __init__(self, opts, index, work, baseline_files):
        self.opts = opts
        self.root = os.path.join(work, "w%d" % index)
        os.makedirs(os.path.join(self.root, "etc/ssh"))
        for k in KEYFILES:
            for suffix in ("", ".pub"):
                shutil.copy2(os.path.join(work, "keys", k + suffix), os.path.join(self.root, "etc/ssh", k + suffix))
        enter_private_etc_ssh(os.path.join(self.root, "etc/ssh"))
        self.driver = Driver(opts.driver, opts.lenses)
        self.baseline_files = baseline_files
        self.baseline = {}
        self.judge = Judge(self.driver, opts.cli, self.root, self.baseline)

    def baseline_for(self, specs):
        """sshd's defaults (an empty sshd_config; the same for every connection), once."""
        if self.baseline:
            return
        write_tree(self.root, self.baseline_files)
        rc, out, err = sshd_T(None)
        if rc != 0:
            raise RuntimeError("sshd -T on an empty configuration failed: " + err)
        self.baseline.update(norm.parse_sshd_T(out))

    def run_tree(self, files, specs, edit_seed, cli_check):
        """Returns a dict: refused, disagreements, edits, connections."""
        self.baseline_for(specs)
        write_tree(self.root, files)
        accepted, found, sshd_by, ours_by, keys = self.judge.check(specs)
        result = {"refused": not accepted, "disagreements": found, "edits": 0, "connections": 0}
        if not accepted:
            # sshd_by holds sshd's complaint, ours_by the connection it is for (None: any)
            result["disagreements"] = self.check_refusal(files, sshd_by, ours_by)
            return result
        result["connections"] = len(sshd_by or {})
        if sshd_by is None or found:
            return result
        rng = random.Random(edit_seed)
        desc, f = self.judge.edit(rng, keys, specs, sshd_by, ours_by, read_tree(self.root))
        result["edits"] = 1
        result["edit"] = desc
        result["disagreements"] = f
        if cli_check and not f:
            result["disagreements"] = self.cli_edit_check(files, desc)
        return result

    def check_refusal(self, files, sshd_err, spec=None):
        """A tree sshd refuses (for `spec` only, when given): a change through the CLI must be
        refused naming sshd's file:line, with nothing written."""
        if not self.opts.cli:
            return []
        before = read_tree(self.root)
        # A value no generated tree has, so that the change is never a no-op, of a keyword no
        # defect touches (a set that replaces the defective line repairs the tree).
        r = subprocess.run([self.opts.cli, "--root", self.root, "--no-reload", "set", "ClientAliveCountMax", "17"],
                           capture_output=True, text=True)
        found = []
        loc = sshd_location(sshd_err)
        text = r.stdout + r.stderr
        if r.returncode not in (4, 5):
            found.append(Disagreement("accepts-refused", "-", spec, sshd_err.strip(), "exit %d" % r.returncode,
                                      text.strip()[-300:]))
        elif loc and "%s line %d" % loc not in text and "%s:%d" % loc not in text:
            found.append(Disagreement("refusal-location", "-", spec, "%s line %d" % loc, text.strip()[-300:]))
        if read_tree(self.root) != before:
            found.append(Disagreement("refused-but-wrote", "-", spec, "", "files changed"))
        return found

    def cli_edit_check(self, files, desc):
        """The same edit through the CLI (--root on a fresh copy) writes what the engine wrote."""
        engine = read_tree(self.root)
        write_tree(self.root, files)
        r = subprocess.run([self.opts.cli, "--root", self.root, "--no-reload"] + desc.split(" "),
                           capture_output=True, text=True)
        cli = read_tree(self.root)
        if r.returncode not in (0, 3):
            return [Disagreement("cli-edit-failed", desc, None, "", "exit %d" % r.returncode,
                                 (r.stdout + r.stderr).strip()[-300:])]
        if cli != engine:
            return [Disagreement("cli-differs-from-engine", desc, None, "", "files differ")]
        return []


def specs_for(rng, n):
    """A complete connection first (it doubles as the validity check), then no -C, then others."""
    return [random_spec(rng, complete=True), None] + [random_spec(rng) for _ in range(n - 1)]


def worker_main(opts, index, work, baseline_files, seeds, queue):
    try:
        os.nice(0)
        w = Worker(opts, index, work, baseline_files)
        deadline = time.time() + opts.time_limit if opts.time_limit else None
        for i in seeds:
            if deadline and time.time() > deadline:
                break
            s = tree_seed(opts.seed, i)
            tree, _ = gen.generate(s, opts.refused_share)
            files = tree.contents()
            rng = random.Random(s ^ 0xC0FFEE)
            specs = specs_for(rng, opts.connections)
            res = w.run_tree(files, specs, s ^ 0xED17, opts.cli_every and i % opts.cli_every == 0)
            res["index"] = i
            if res["disagreements"] and opts.reduce_into:
                res["fixtures"] = reduce_and_save(w, opts, i, s, files, specs, res)
            res["disagreements"] = [str(d) for d in res["disagreements"]]
            queue.put(("tree", index, res))
        queue.put(("done", index, None))
    except Exception as e:  # reported by the parent, which fails the run
        import traceback
        queue.put(("crash", index, traceback.format_exc() + str(e)))


# ---- reduction --------------------------------------------------------------------------
def reduce_and_save(w, opts, index, seed, files, specs, res):
    """Shrinks the tree (whole files, then single lines) while the first disagreement stays,
    and writes it under opts.reduce_into. Returns the fixture's name (or None when it is a
    duplicate of one already written by this run)."""
    target = res["disagreements"][0]
    spec_list = ([target.spec] if target.spec else []) + [None]
    if target.spec is None:
        spec_list = [random_spec(random.Random(seed), complete=True), None]
    edit_seed = seed ^ 0xED17
    edit = res.get("edit")

    def still(candidate):
        try:
            r = w.run_tree(candidate, spec_list, edit_seed, False) if edit is None else \
                run_fixed_edit(w, candidate, spec_list, edit)
        except RuntimeError:
            return False
        return any(d.kind == target.kind and d.key == target.key and d.spec == target.spec
                   for d in r["disagreements"])

    sig = "%s-%s" % (target.kind, re.sub(r"[^A-Za-z0-9]+", "-", target.key).strip("-").lower() or "tree")
    existing = [n for n in os.listdir(opts.reduce_into) if n.startswith(sig + "-")] \
        if os.path.isdir(opts.reduce_into) else []
    if len(existing) >= opts.max_per_kind:
        return None  # enough reproducers of this kind already
    cur = dict(files)
    if not still(cur):
        return None
    for path in sorted(cur, reverse=True):
        if path == gen.MAIN:
            continue
        cand = {p: c for p, c in cur.items() if p != path}
        if still(cand):
            cur = cand
    # Lines: chunks of half the file, then quarters, … down to single lines (ddmin-like).
    for path in list(cur):
        lines = cur[path].split(b"\n")
        size = max(1, len(lines) // 2)
        while True:
            i = 0
            while i < len(lines):
                cand_lines = lines[:i] + lines[i + size:]
                cand = dict(cur)
                cand[path] = b"\n".join(cand_lines)
                if still(cand):
                    cur, lines = cand, cand_lines
                else:
                    i += size
            if size == 1:
                break
            size = max(1, size // 2)
    name = "%s-%d" % (sig, index)
    out = os.path.join(opts.reduce_into, name)
    for path, data in cur.items():
        p = os.path.join(out, path.lstrip("/"))
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data)
    with open(os.path.join(out, "case.txt"), "w") as f:
        f.write("seed %d (run seed %d, tree %d)\n" % (seed, opts.seed, index))
        f.write("kind %s\n" % target.kind)
        f.write("connection %s\n" % (target.spec or "(none: sshd -T without -C)"))
        f.write("keyword %s\n" % target.key)
        f.write("sshd %s\n" % (target.sshd,))
        f.write("sshdctl %s\n" % (target.ours,))
        if edit:
            f.write("edit %s\n" % edit)
        if target.detail:
            f.write("detail %s\n" % target.detail)
    return name


def run_fixed_edit(w, files, specs, edit):
    """Loads `files`, applies the edit `edit` (as in case.txt) and judges it."""
    w.baseline_for(specs)
    write_tree(w.root, files)
    accepted, found, sshd_by, ours_by, keys = w.judge.check(specs)
    if not accepted or sshd_by is None:
        return {"disagreements": found}
    verb = edit.split(" ")
    before = read_tree(w.root)
    reply = w.driver.ask(*verb)
    if w.driver.error(reply):
        return {"disagreements": found}
    after = read_tree(w.root)
    found += Judge.minimal_diff(verb, before, after)
    if sshd_t()[0] != 0:
        return {"disagreements": found + [Disagreement("edit-refused-by-sshd", verb[1], None, "", edit)]}
    if w.driver.error(w.driver.ask("load", w.root)):
        return {"disagreements": found + [Disagreement("edit-does-not-reparse", verb[1], None, "", edit)]}
    for spec in sshd_by:
        rc, out, _ = sshd_T(spec)
        if rc == 0:
            # from-match must be asked of the tree before the edit
            found += judge_after(w, verb, spec, sshd_by[spec], norm.parse_sshd_T(out), ours_by[spec], files, after)
    return {"disagreements": found}


def judge_after(w, verb, spec, before, after, ours_before, before_files, after_files):
    write_tree(w.root, after_files)
    w.driver.ask("load", w.root)
    after_view = w.judge.after_view(spec, verb)
    write_tree(w.root, before_files)
    w.driver.ask("load", w.root)
    res = w.judge.judge_edit(verb, spec, before, after, ours_before, after_view=after_view)
    write_tree(w.root, after_files)
    return res


# ---- main -------------------------------------------------------------------------------
def make_keys(work):
    d = os.path.join(work, "keys")
    os.makedirs(d)
    for k, t in zip(KEYFILES, ["ed25519", "ecdsa", "rsa"]):
        subprocess.run(["ssh-keygen", "-q", "-t", t, "-N", "", "-C", "differential", "-f", os.path.join(d, k)]
                       + (["-b", "2048"] if t == "rsa" else []), check=True)


def replay(opts):
    """Runs the fixtures under opts.replay (each NAME/ with etc/ssh and case.txt) once more."""
    work = tempfile.mkdtemp(prefix="sshdctl-diff.")
    make_keys(work)
    q = multiprocessing.Queue()
    names = sorted(n for n in os.listdir(opts.replay) if os.path.isfile(os.path.join(opts.replay, n, "case.txt")))

    def child():
        w = Worker(opts, 0, work, {gen.MAIN: b""})
        for n in names:
            d = os.path.join(opts.replay, n)
            case = dict(line.rstrip("\n").split(" ", 1) for line in open(os.path.join(d, "case.txt")))
            files = {}
            for base, _, fs in os.walk(os.path.join(d, "etc")):
                for f in fs:
                    p = os.path.join(base, f)
                    files["/" + os.path.relpath(p, d)] = open(p, "rb").read()
            spec = case["connection"] if not case["connection"].startswith("(") else None
            # As the reduction checked it: without a connection of its own, the complete
            # connection of the tree's seed (a re-read that fails only for some connections).
            seed = int(case["seed"].split(" ", 1)[0])
            specs = [spec, None] if spec else [random_spec(random.Random(seed), complete=True), None]
            r = run_fixed_edit(w, files, specs, case["edit"]) if "edit" in case else w.run_tree(files, specs, 0, False)
            q.put((n, [str(x) for x in r["disagreements"]]))
        q.put(None)

    # OPEN: the reproducers not fixed yet, "NAME reason" a line; each must still disagree.
    open_list = {}
    open_path = os.path.join(opts.replay, "OPEN")
    if os.path.isfile(open_path):
        for line in open(open_path):
            if line.strip() and not line.startswith("#"):
                name, _, why = line.strip().partition(" ")
                open_list[name] = why
    p = multiprocessing.Process(target=child)
    p.start()
    failed = 0
    while True:
        m = q.get()
        if m is None:
            break
        n, found = m
        if n in open_list:
            if found:
                print("%s: open (%s): %s" % (n, open_list[n], found[0]))
            else:
                failed += 1
                print("%s: FAIL: listed in OPEN but agrees now: take it off the list" % n)
        elif found:
            failed += 1
            print("%s: FAIL: %s" % (n, "; ".join(found)))
        else:
            print("%s: agrees" % n)
    p.join()
    shutil.rmtree(work, ignore_errors=True)
    if p.exitcode != 0:
        print("replay: the worker died (exit %s)" % p.exitcode)
        return 1
    print("replay: %d of %d reproducers disagree (%d open, listed in OPEN)" % (failed, len(names), len(open_list)))
    return 1 if failed else 0


PRIVSEP_DIR = "/run/sshd"


def privsep_dir():
    """sshd refuses to start, even in test mode, without its privilege separation directory,
    which only exists while an sshd runs: as sshdctl's own check does, create it for the run
    and remove it after. Returns whether it was made here."""
    if os.path.isdir(PRIVSEP_DIR):
        return False
    os.mkdir(PRIVSEP_DIR, 0o755)
    return True


def main():
    if os.geteuid() != 0:
        sys.exit("differential: must run as root (a private mount namespace over /etc/ssh)")
    made = privsep_dir()
    try:
        return run_main()
    finally:
        if made:
            os.rmdir(PRIVSEP_DIR)


def run_main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--driver", required=True)
    ap.add_argument("--lenses", required=True)
    ap.add_argument("--cli", help="the sshdctl binary (refusals and CLI edits)")
    ap.add_argument("--trees", type=int, default=300)
    ap.add_argument("--seed", type=int)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--connections", type=int, default=3, help="random connection specs per tree (plus no -C)")
    ap.add_argument("--refused-share", type=float, default=0.1)
    ap.add_argument("--cli-every", type=int, default=0, help="every Nth tree's edit is also made by the CLI")
    ap.add_argument("--time-limit", type=float, default=0, help="stop starting trees after this many seconds")
    ap.add_argument("--reduce-into", help="write reduced reproducers of disagreements here")
    ap.add_argument("--max-per-kind", type=int, default=3, help="reproducers per kind and keyword")
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument("--replay", help="re-run reproducers in this directory")
    ap.add_argument("--only", help="run only these trees of the seed (indexes, comma-separated)")
    opts = ap.parse_args()
    if opts.replay:
        return replay(opts)
    if opts.seed is None:
        opts.seed = random.SystemRandom().randrange(1 << 31)
    print("differential: seed %d (re-run with --seed %d), %d trees, %d jobs" % (opts.seed, opts.seed, opts.trees,
                                                                                 opts.jobs), flush=True)
    work = tempfile.mkdtemp(prefix="sshdctl-diff.")
    start = time.time()
    try:
        make_keys(work)
        q = multiprocessing.Queue()
        procs = []
        for j in range(opts.jobs):
            indexes = [int(n) for n in opts.only.split(",")] if opts.only else list(range(opts.trees))
            seeds = indexes[j::opts.jobs]
            p = multiprocessing.Process(target=worker_main, args=(opts, j, work, {gen.MAIN: b""}, seeds, q))
            p.start()
            procs.append(p)
        stats = {"trees": 0, "connections": 0, "edits": 0, "refused": 0, "disagreements": 0}
        crashed = []
        running = len(procs)
        while running:
            kind, j, res = q.get()
            if kind == "done":
                running -= 1
                continue
            if kind == "crash":
                crashed.append("worker %d: %s" % (j, res))
                running -= 1
                continue
            stats["trees"] += 1
            stats["connections"] += res["connections"]
            stats["edits"] += res["edits"]
            stats["refused"] += int(res["refused"])
            if res["disagreements"]:
                stats["disagreements"] += 1
                print("DISAGREEMENT tree %d (seed %d): %s%s" % (
                    res["index"], tree_seed(opts.seed, res["index"]), "; ".join(res["disagreements"][:3]),
                    (" -> " + res["fixtures"]) if res.get("fixtures") else ""), flush=True)
            elif not opts.quiet and stats["trees"] % 500 == 0:
                print("  %d trees, %.1f trees/s" % (stats["trees"], stats["trees"] / (time.time() - start)),
                      flush=True)
        for p in procs:
            p.join()
        elapsed = time.time() - start
        for c in crashed:
            print("CRASH " + c, file=sys.stderr)
        print("differential: seed %d: trees %d, connections %d, edits %d, refused %d, disagreements %d, "
              "%.1f trees/s" % (opts.seed, stats["trees"], stats["connections"], stats["edits"], stats["refused"],
                                stats["disagreements"], stats["trees"] / elapsed if elapsed else 0.0), flush=True)
        if crashed or stats["trees"] == 0:
            return 2
        return 1 if stats["disagreements"] else 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
