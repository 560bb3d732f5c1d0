"""Seeded generator of sshd_config trees for the differential test against sshd -T.

generate(seed, refused_share) returns a Tree: the files under /etc/ssh (absolute target
paths) with their bytes. The same seed gives the same tree on every machine. Host keys are
not part of a tree: the runner keeps /etc/ssh/ssh_host_{ed25519,ecdsa,rsa}_key in place, and
HostKey lines only name those.

A tree meant to be refused carries exactly one defect (a bad value, a bad Match condition, a
keyword sshd 9.2 does not know or does not allow in Match, a missing argument); sshd -t is
still what decides whether it is refused.
"""

import random

ETC = "/etc/ssh"
MAIN = ETC + "/sshd_config"

# Pools shared with the connection specs (runner.py), so that Match conditions often match.
USERS = ["root", "daemon", "nobody", "postgres", "www-data", "alice", "bob"]  # alice, bob: no such account
GROUPS = ["root", "daemon", "nogroup", "postgres", "ssl-cert", "www-data", "staff", "admins"]
HOSTS = ["web1.example.com", "db.example.org", "bastion", "10.1.2.3"]
ADDRS = ["10.0.0.5", "10.1.2.3", "192.0.2.7", "198.51.100.20", "203.0.113.9", "2001:db8::5"]
LADDRS = ["10.9.9.9", "192.0.2.1", "127.0.0.1"]
LPORTS = ["22", "2222", "8022"]
RDOMAINS = ["rd1", "rd2"]

HOSTKEYS = [ETC + "/ssh_host_ed25519_key", ETC + "/ssh_host_ecdsa_key", ETC + "/ssh_host_rsa_key"]

CIPHERS = ["chacha20-poly1305@openssh.com", "aes128-ctr", "aes192-ctr", "aes256-ctr",
           "aes128-gcm@openssh.com", "aes256-gcm@openssh.com"]
MACS = ["hmac-sha2-256", "hmac-sha2-512", "hmac-sha2-256-etm@openssh.com", "umac-128-etm@openssh.com",
        "hmac-sha1"]
KEX = ["curve25519-sha256", "curve25519-sha256@libssh.org", "ecdh-sha2-nistp256", "diffie-hellman-group14-sha256",
       "sntrup761x25519-sha512@openssh.com"]
KEYALGS = ["ssh-ed25519", "ecdsa-sha2-nistp256", "rsa-sha2-512", "rsa-sha2-256", "ssh-ed25519-cert-v01@openssh.com"]
TIMES = ["30", "0", "45s", "2m", "1h", "1h30m", "90", "1d", "2w"]

# Keywords sshd 9.2 allows inside Match (sshd_config(5)).
MATCH_OK = set("""AcceptEnv AllowAgentForwarding AllowGroups AllowStreamLocalForwarding AllowTcpForwarding
AllowUsers AuthenticationMethods AuthorizedKeysCommand AuthorizedKeysCommandUser AuthorizedKeysFile
AuthorizedPrincipalsCommand AuthorizedPrincipalsCommandUser AuthorizedPrincipalsFile Banner CASignatureAlgorithms
ChallengeResponseAuthentication ChannelTimeout ChrootDirectory ClientAliveCountMax ClientAliveInterval DenyGroups
DenyUsers DisableForwarding ExposeAuthInfo ForceCommand GatewayPorts GSSAPIAuthentication
HostbasedAcceptedAlgorithms HostbasedAcceptedKeyTypes HostbasedAuthentication HostbasedUsesNameFromPacketOnly
IgnoreRhosts IPQoS KbdInteractiveAuthentication KerberosAuthentication LogLevel LogVerbose MaxAuthTries
MaxSessions PasswordAuthentication PermitEmptyPasswords PermitListen PermitOpen PermitRootLogin PermitTTY
PermitTunnel PermitUserRC PubkeyAcceptedAlgorithms PubkeyAcceptedKeyTypes PubkeyAuthentication PubkeyAuthOptions
RekeyLimit RevokedKeys RDomain SetEnv StreamLocalBindMask StreamLocalBindUnlink TrustedUserCAKeys
UnusedConnectionTimeout X11DisplayOffset X11Forwarding X11UseLocalhost""".split())


def _subset(rng, pool, lo=1):
    return ",".join(rng.sample(pool, rng.randint(lo, min(3, len(pool)))))


def _one(*choices):
    return lambda rng: rng.choice(choices)


YESNO = _one("yes", "no", "YES", "No")
FWD = _one("yes", "no", "all", "local", "remote")


def _int(lo, hi):
    return lambda rng: str(rng.randint(lo, hi))


def _time(rng):
    return rng.choice(TIMES)


def _words(pool, lo=1, hi=3):
    return lambda rng: " ".join(rng.sample(pool, rng.randint(lo, min(hi, len(pool)))))


# keyword -> value generator (a string: the words after the keyword).
VALUES = {
    "AcceptEnv": _words(["LANG", "LC_*", "XMODIFIERS", "GIT_*", "TZ"]),
    "AddressFamily": _one("any", "inet", "inet6"),
    "AllowAgentForwarding": YESNO,
    "AllowGroups": _words(GROUPS),
    "AllowStreamLocalForwarding": FWD,
    "AllowTcpForwarding": FWD,
    "AllowUsers": _words(USERS + ["root@10.0.0.0/8", "*", "a*"]),
    "AuthenticationMethods": _one("any", "publickey", "publickey,password", "publickey,keyboard-interactive password",
                                  "password"),
    "AuthorizedKeysCommand": _one("none", "/usr/bin/true %u"),
    "AuthorizedKeysCommandUser": _one("nobody", "root"),
    "AuthorizedKeysFile": _one(".ssh/authorized_keys", ".ssh/authorized_keys .ssh/authorized_keys2",
                               "/etc/ssh/keys/%u", "none"),
    "AuthorizedPrincipalsFile": _one("none", "/etc/ssh/principals/%u"),
    "Banner": _one("none", "/etc/issue.net"),
    "CASignatureAlgorithms": lambda rng: _subset(rng, KEYALGS[:4]),
    "ChallengeResponseAuthentication": YESNO,
    "ChannelTimeout": _one("session=5m", "agent-connection=1h direct-tcpip=30m", "none"),
    "ChrootDirectory": _one("none", "/srv/chroot/%u"),
    "Ciphers": lambda rng: _subset(rng, CIPHERS),
    "ClientAliveCountMax": _int(0, 10),
    "ClientAliveInterval": _time,
    "Compression": _one("yes", "no", "delayed"),
    "DenyGroups": _words(GROUPS),
    "DenyUsers": _words(USERS + ["guest*"]),
    "DisableForwarding": YESNO,
    "ExposeAuthInfo": YESNO,
    "FingerprintHash": _one("md5", "sha256"),
    "ForceCommand": _one("internal-sftp", "/usr/bin/true"),
    "GatewayPorts": _one("yes", "no", "clientspecified"),
    "GSSAPIAuthentication": YESNO,
    "GSSAPICleanupCredentials": YESNO,
    "GSSAPIStrictAcceptorCheck": YESNO,
    "HostbasedAcceptedAlgorithms": lambda rng: _subset(rng, KEYALGS),
    "HostbasedAcceptedKeyTypes": lambda rng: _subset(rng, KEYALGS),
    "HostbasedAuthentication": YESNO,
    "HostbasedUsesNameFromPacketOnly": YESNO,
    "HostKey": lambda rng: rng.choice(HOSTKEYS),
    "HostKeyAlgorithms": lambda rng: _subset(rng, KEYALGS),
    "IgnoreRhosts": _one("yes", "no", "shosts-only"),
    "IgnoreUserKnownHosts": YESNO,
    "IPQoS": _one("af21 cs1", "lowdelay throughput", "af42", "cs0 cs0"),
    "KbdInteractiveAuthentication": YESNO,
    "KerberosAuthentication": YESNO,
    "KerberosOrLocalPasswd": YESNO,
    "KerberosTicketCleanup": YESNO,
    "KexAlgorithms": lambda rng: _subset(rng, KEX),
    "ListenAddress": _one("0.0.0.0", "127.0.0.1", "127.0.0.1:2200", "[::1]:2201", "::1", "10.9.9.9"),
    "LoginGraceTime": _time,
    "LogVerbose": _one("kex.c:*:1000", "sshd.c:*"),  # sshd 9.2's name (sshdctl's catalog says LogVerbosity)
    "LogLevel": _one("QUIET", "FATAL", "ERROR", "INFO", "VERBOSE", "DEBUG", "DEBUG1", "DEBUG2", "debug3", "info"),
    "MACs": lambda rng: _subset(rng, MACS),
    "MaxAuthTries": _int(1, 10),
    "MaxSessions": _int(0, 20),
    "MaxStartups": _one("10:30:100", "20", "5:50:20"),
    "ModuliFile": _one("/etc/ssh/moduli"),
    "PasswordAuthentication": YESNO,
    "PermitEmptyPasswords": YESNO,
    "PermitListen": _one("any", "none", "8080", "localhost:9090 8080"),
    "PermitOpen": _one("any", "none", "db:5432", "10.0.0.1:80 web1:443"),
    "PermitRootLogin": _one("yes", "no", "prohibit-password", "without-password", "forced-commands-only", "NO"),
    "PermitTTY": YESNO,
    "PermitTunnel": _one("yes", "no", "point-to-point", "ethernet"),
    "PermitUserEnvironment": _one("no", "yes", "LANG,LC_*"),
    "PermitUserRC": YESNO,
    "PerSourceMaxStartups": _one("none", "5"),
    "PerSourceNetBlockSize": _one("32", "24:64", "32:128"),
    "PidFile": _one("/run/sshd.pid", "/run/sshd-alt.pid", "none"),
    "Port": _one("22", "2222", "8022"),
    "PrintLastLog": YESNO,
    "PrintMotd": YESNO,
    "PubkeyAcceptedAlgorithms": lambda rng: _subset(rng, KEYALGS),
    "PubkeyAcceptedKeyTypes": lambda rng: _subset(rng, KEYALGS),
    "PubkeyAuthOptions": _one("none", "touch-required", "verify-required", "touch-required verify-required"),
    "PubkeyAuthentication": YESNO,
    "RekeyLimit": _one("default none", "1G 1h", "500M", "default 30m", "64K none"),
    "RequiredRSASize": _one("1024", "2048", "3072"),
    "RevokedKeys": _one("none", "/etc/ssh/revoked_keys"),
    "SecurityKeyProvider": _one("internal"),
    "SetEnv": _one("FOO=bar", "A=1 B=2"),
    "StreamLocalBindMask": _one("0177", "077", "0022"),
    "StreamLocalBindUnlink": YESNO,
    "StrictModes": YESNO,
    "Subsystem": _one("sftp /usr/lib/openssh/sftp-server", "sftp internal-sftp", "backup /usr/bin/true -x"),
    "SyslogFacility": _one("AUTH", "AUTHPRIV", "DAEMON", "LOCAL0", "local7", "USER"),
    "TCPKeepAlive": YESNO,
    "TrustedUserCAKeys": _one("none", "/etc/ssh/user_ca.pub"),
    "UnusedConnectionTimeout": _one("none", "5m", "3600"),
    "UseDNS": YESNO,
    "UsePAM": YESNO,
    "VersionAddendum": _one("none", "lab"),
    "X11DisplayOffset": _int(0, 100),
    "X11Forwarding": YESNO,
    "X11UseLocalhost": YESNO,
    "XAuthLocation": _one("/usr/bin/xauth"),
}

GLOBAL_KEYWORDS = sorted(VALUES)
MATCH_KEYWORDS = sorted(k for k in VALUES if k in MATCH_OK)
ACCUMULATING = ["AllowUsers", "AcceptEnv", "Port", "ListenAddress", "HostKey", "DenyUsers", "AllowGroups",
                "DenyGroups", "Subsystem"]
ALIASES = [("ChallengeResponseAuthentication", "KbdInteractiveAuthentication"),
           ("PubkeyAcceptedKeyTypes", "PubkeyAcceptedAlgorithms"),
           ("HostbasedAcceptedKeyTypes", "HostbasedAcceptedAlgorithms")]

# Defects for the refused share: (description, line maker).
BAD_VALUES = {
    "PermitRootLogin": ["maybe", "yes-please"],
    "PasswordAuthentication": ["on", "2"],
    "MaxAuthTries": ["many", "-1"],
    "LoginGraceTime": ["5x", "1h-"],
    "Ciphers": ["foo-cipher", "aes128-ctr,rot13"],
    "LogLevel": ["LOUD"],
    "AddressFamily": ["ipx"],
    "Compression": ["zlib"],
    "Port": ["0", "70000", "no-such-service"],
    "MaxStartups": ["10:30", "a:b:c"],
    "IgnoreRhosts": ["sometimes"],
    "X11DisplayOffset": ["x"],
}
UNKNOWN_KEYWORDS = ["PermitRootLogon", "PerSourcePenalties", "RefuseConnection", "SshdSessionPath", "Foo"]
GLOBAL_ONLY_IN_MATCH = ["Port", "UsePAM", "Ciphers", "ListenAddress", "LoginGraceTime", "Subsystem"]


# Include targets; a file includes only directories after its own, so globs never recurse.
INCLUDE_DIRS = ["sshd_config.d", "conf.d", "extra", "extra/deeper"]


class File:
    def __init__(self, path):
        self.path = path
        self.lines = []
        self.crlf = False
        self.final_newline = True

    def text(self):
        end = "\r\n" if self.crlf else "\n"
        body = end.join(self.lines)
        return body + end if self.final_newline and self.lines else body


class Tree:
    def __init__(self):
        self.files = {}  # target path -> File, in creation order

    def file(self, path):
        if path not in self.files:
            self.files[path] = File(path)
        return self.files[path]

    def contents(self):
        """target path -> bytes"""
        return {p: f.text().encode() for p, f in self.files.items()}


class Gen:
    def __init__(self, seed, want_refused):
        self.rng = random.Random(seed)
        self.tree = Tree()
        self.want_refused = want_refused
        self.depth_limit = 3
        self.dropin_count = 0
        # Keywords that tend to recur so that first-wins, accumulation and aliases are exercised.
        self.hot = self.rng.sample(GLOBAL_KEYWORDS, 6) + self.rng.sample(ACCUMULATING, 2) + \
            list(self.rng.choice(ALIASES))

    # ---- line spelling -------------------------------------------------------------------
    def spell_keyword(self, kw):
        r = self.rng.random()
        if r < 0.6:
            return kw
        if r < 0.75:
            return kw.lower()
        if r < 0.85:
            return kw.upper()
        return "".join(c.upper() if self.rng.random() < 0.5 else c.lower() for c in kw)

    def separator(self):
        return self.rng.choice([" ", " ", " ", "\t", "=", " = ", "  ", "= "])

    def spell_value(self, value):
        words = value.split(" ")
        if self.rng.random() < 0.12:
            words = ['"%s"' % w for w in words]
        elif len(words) > 1 and self.rng.random() < 0.05:
            words = ['"%s"' % w for w in words]
        return " ".join(words)

    def indent(self):
        return self.rng.choice(["", "", "", "  ", "\t", "    "])

    def comment_tail(self):
        return self.rng.choice([" # note", "\t# trailing comment", " #x"]) if self.rng.random() < 0.08 else ""

    def setting_line(self, kw, value, in_match):
        ind = self.indent() if not in_match else self.rng.choice(["  ", "\t", "    ", ""])
        return ind + self.spell_keyword(kw) + self.separator() + self.spell_value(value) + self.comment_tail()

    def pick_keyword(self, in_match):
        pool = MATCH_KEYWORDS if in_match else GLOBAL_KEYWORDS
        if self.rng.random() < 0.45:
            hot = [k for k in self.hot if k in pool]
            if hot:
                return self.rng.choice(hot)
        return self.rng.choice(pool)

    def settings(self, f, n, in_match):
        for _ in range(n):
            r = self.rng.random()
            if r < 0.07:
                f.lines.append(self.indent() + "# " + self.rng.choice(["comment", "PermitRootLogin yes", "Match all"]))
            elif r < 0.12:
                f.lines.append(self.rng.choice(["", "  ", "\t"]))
            else:
                kw = self.pick_keyword(in_match)
                if kw in ("AuthorizedKeysCommand",):
                    # sshd refuses a command without its user.
                    f.lines.append(self.setting_line("AuthorizedKeysCommandUser", VALUES["AuthorizedKeysCommandUser"](
                        self.rng), in_match))
                f.lines.append(self.setting_line(kw, VALUES[kw](self.rng), in_match))

    # ---- Match conditions ----------------------------------------------------------------
    def patterns(self, pool, neg=True):
        items = self.rng.sample(pool, self.rng.randint(1, min(3, len(pool))))
        if self.rng.random() < 0.2:
            items.append(self.rng.choice(["*", "r*", "?oot", "*.example.com", "*bar"]))
        if neg and self.rng.random() < 0.25:
            i = self.rng.randrange(len(items))
            items[i] = "!" + items[i]
            if all(x.startswith("!") for x in items):
                items.append("*")
        return ",".join(items)

    def address_patterns(self, local=False):
        pool = LADDRS if local else ADDRS
        choices = [self.rng.choice(pool), "10.0.0.0/8", "192.0.2.0/24", "10.1.0.0/16", "2001:db8::/32",
                   "198.51.100.*", "203.0.113.9/32"]
        items = self.rng.sample(choices, self.rng.randint(1, 3))
        if self.rng.random() < 0.25:
            i = self.rng.randrange(len(items))
            items[i] = "!" + items[i]
            if all(x.startswith("!") for x in items):
                items.append("*")
        return ",".join(items)

    def criterion(self):
        c = self.rng.choice(["User", "User", "Group", "Host", "Address", "Address", "LocalAddress", "LocalPort",
                             "RDomain"])
        if c == "User":
            v = self.patterns(USERS)
        elif c == "Group":
            v = self.patterns(GROUPS)
        elif c == "Host":
            v = self.patterns(HOSTS)
        elif c == "Address":
            v = self.address_patterns()
        elif c == "LocalAddress":
            v = self.address_patterns(local=True)
        elif c == "LocalPort":
            v = self.rng.choice(LPORTS)
        else:
            v = self.patterns(RDOMAINS)
        return c, v

    def match_line(self):
        if self.rng.random() < 0.12:
            return "Match " + self.rng.choice(["all", "All", "ALL"])
        crits = []
        for _ in range(self.rng.choice([1, 1, 1, 2, 2, 3])):
            name, v = self.criterion()
            name = self.rng.choice([name, name, name.lower(), name.upper()])
            form = self.rng.random()
            if form < 0.15:
                crits.append("%s=%s" % (name, v))
            elif form < 0.2:
                crits.append('%s "%s"' % (name, v))
            else:
                crits.append("%s %s" % (name, v))
        return self.rng.choice(["Match ", "match ", "MATCH ", "Match\t", "Match="]) + " ".join(crits) + \
            self.comment_tail()

    # ---- files ---------------------------------------------------------------------------
    def include_target(self, depth, inside_match, here):
        """Creates included file(s) and returns the Include line's pattern words. `here` is the
        directory of the including file: a glob over it would include the file itself, which
        sshd refuses (recursion), so nested includes go to another directory."""
        dirs = INCLUDE_DIRS[INCLUDE_DIRS.index(here) + 1:] if here in INCLUDE_DIRS else INCLUDE_DIRS
        d = self.rng.choice(dirs)
        style = self.rng.random()
        names = []
        for _ in range(self.rng.randint(1, 3)):
            self.dropin_count += 1
            names.append("%02d-%s.conf" % (self.rng.randint(0, 99), "f%d" % self.dropin_count))
        for n in names:
            self.fill_dropin(ETC + "/" + d + "/" + n, depth + 1, inside_match)
        if self.rng.random() < 0.1:  # a file the glob must not pick up
            f = self.tree.file(ETC + "/" + d + "/ignored.conf.bak")
            f.lines.append("PermitRootLogin yes")
        if style < 0.35:
            return [ETC + "/" + d + "/*.conf"]
        if style < 0.55:
            return [d + "/*.conf"]  # relative to /etc/ssh
        if style < 0.75:
            return [(ETC + "/" if self.rng.random() < 0.5 else "") + d + "/" + n for n in names]
        if style < 0.85:
            return ['"%s/*.conf"' % d, ETC + "/nonexistent.d/*.conf"]
        return [ETC + "/" + d + "/[0-9]*.conf"]

    def include_line(self, depth, inside_match, here=""):
        words = self.include_target(depth, inside_match, here)
        ind = "  " if inside_match else ""
        return ind + self.spell_keyword("Include") + self.separator() + " ".join(words)

    def fill_dropin(self, path, depth, inside_match):
        f = self.tree.file(path)
        f.crlf = self.rng.random() < 0.1
        f.final_newline = self.rng.random() > 0.05
        self.settings(f, self.rng.randint(0, 5), inside_match)
        here = path[len(ETC) + 1:].rsplit("/", 1)[0]
        if depth < self.depth_limit and here != INCLUDE_DIRS[-1] and self.rng.random() < 0.2:
            f.lines.append(self.include_line(depth, inside_match, here))
        # A Match block that ends where the included file ends.
        if self.rng.random() < 0.35:
            f.lines.append(self.match_line())
            self.settings(f, self.rng.randint(1, 3), True)

    def main(self):
        f = self.tree.file(MAIN)
        f.crlf = self.rng.random() < 0.1
        f.final_newline = self.rng.random() > 0.05
        if self.rng.random() < 0.3:
            f.lines.append("# sshd_config generated for the differential test")
        if self.rng.random() < 0.7:
            f.lines.append(self.include_line(0, False))
        if self.rng.random() < 0.6:
            for key in self.rng.sample(HOSTKEYS, self.rng.randint(1, 3)):
                f.lines.append(self.setting_line("HostKey", key, False))
        self.settings(f, self.rng.randint(2, 10), False)
        if self.rng.random() < 0.25:
            f.lines.append(self.include_line(0, False))
            self.settings(f, self.rng.randint(0, 3), False)
        for _ in range(self.rng.choice([0, 1, 1, 2, 3, 4])):
            f.lines.append(self.match_line())
            self.settings(f, self.rng.randint(0, 4), True)
            if self.rng.random() < 0.2:
                f.lines.append(self.include_line(0, True))
                self.settings(f, self.rng.randint(0, 2), True)

    def defect(self):
        """Puts one defect sshd should refuse into a random file of the tree."""
        path = self.rng.choice(list(self.tree.files))
        f = self.tree.file(path)
        kind = self.rng.choice(["value", "value", "unknown", "match-cond", "global-in-match", "missing-arg",
                                "recursion"])
        if kind == "recursion":
            d = path.rsplit("/", 1)[0]
            f.lines.append("Include %s/*%s" % (d, path[-5:] if path.endswith(".conf") else "config"))
            return
        if kind == "value":
            kw = self.rng.choice(sorted(BAD_VALUES))
            line = self.setting_line(kw, self.rng.choice(BAD_VALUES[kw]), False)
            f.lines.insert(self.rng.randint(0, self.first_match(f)), line)
        elif kind == "unknown":
            f.lines.insert(self.rng.randint(0, len(f.lines)), self.rng.choice(UNKNOWN_KEYWORDS) + " yes")
        elif kind == "match-cond":
            f.lines.append(self.rng.choice(["Match User", "Match Foo bar", "Match all User root",
                                            "Match Address 10.0.0.0/33", "Match LocalPort ssh",
                                            "Match Address 10.0.0.1/8/2"]))
            f.lines.append("  PasswordAuthentication no")
        elif kind == "global-in-match":
            kw = self.rng.choice(GLOBAL_ONLY_IN_MATCH)
            f.lines.append("Match User root")
            f.lines.append("  " + kw + " " + VALUES[kw](self.rng))
        else:
            f.lines.insert(self.rng.randint(0, self.first_match(f)), self.rng.choice(
                ["PermitRootLogin", "Port", "AllowUsers", "LoginGraceTime"]))

    @staticmethod
    def first_match(f):
        for i, line in enumerate(f.lines):
            if line.strip().lower().startswith("match"):
                return i
        return len(f.lines)


def generate(seed, refused_share=0.1):
    """The tree for `seed`; about `refused_share` of seeds carry a defect."""
    probe = random.Random(seed ^ 0x5EED)
    want_refused = probe.random() < refused_share
    g = Gen(seed, want_refused)
    g.main()
    if want_refused:
        g.defect()
    return g.tree, want_refused


if __name__ == "__main__":
    import sys
    tree, bad = generate(int(sys.argv[1]))
    for path, f in tree.files.items():
        print("==> %s%s" % (path, " (CRLF)" if f.crlf else ""))
        print(f.text().replace("\r", "\\r"))
    print("(meant to be refused)" if bad else "")
