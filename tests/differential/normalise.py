"""The one place where sshdctl's values are put into the form `sshd -T` prints.

Only what sshd itself normalises is normalised here (see README.md, "Normalisation"); any
other difference is a disagreement. sshdctl's values arrive as the engine gives them: the
words of the winning line(s), quotes kept.
"""

import re
import socket

# sshd -T prints one line per value for these (the other keywords: one line).
MULTILINE = {"acceptenv", "allowusers", "denyusers", "allowgroups", "denygroups", "setenv", "hostkey", "port",
             "listenaddress", "hostcertificate", "logverbose"}
# Keywords whose value sshd takes as the raw rest of the line (no unquoting, comments kept).
RAW_REST = {"forcecommand", "authorizedkeyscommand", "authorizedprincipalscommand", "versionaddendum"}
COMMA_LISTS = {"ciphers", "macs", "kexalgorithms", "hostkeyalgorithms", "pubkeyacceptedalgorithms",
               "hostbasedacceptedalgorithms", "casignaturealgorithms", "gssapikexalgorithms"}
TIMES = {"logingracetime", "clientaliveinterval", "unusedconnectiontimeout"}
UPPER = {"loglevel", "syslogfacility", "fingerprinthash"}
# Multi-state options sshd prints under another name for the same state.
SAME_STATE = {
    ("allowtcpforwarding", "all"): "yes",
    ("allowstreamlocalforwarding", "all"): "yes",
    ("compression", "delayed"): "yes",
    ("permitrootlogin", "prohibit-password"): "without-password",
}
# Keywords where sshd folds the case of the value (yes/no and the other multi-state options).
FOLD_CASE = {"addressfamily", "allowagentforwarding", "allowstreamlocalforwarding", "allowtcpforwarding",
             "compression", "disableforwarding", "exposeauthinfo", "gatewayports", "gssapiauthentication",
             "gssapicleanupcredentials", "gssapikeyexchange", "gssapistorecredentialsonrekey",
             "gssapistrictacceptorcheck", "hostbasedauthentication", "hostbasedusesnamefrompacketonly", "ignorerhosts",
             "ignoreuserknownhosts", "kbdinteractiveauthentication", "kerberosauthentication", "kerberosgetafstoken",
             "kerberosorlocalpasswd", "kerberosticketcleanup", "passwordauthentication", "permitemptypasswords",
             "permitrootlogin", "permittty", "permittunnel", "permituserrc", "printlastlog", "printmotd",
             "pubkeyauthentication", "streamlocalbindunlink", "strictmodes", "tcpkeepalive", "usedns", "usepam",
             "x11forwarding", "x11uselocalhost", "ipqos"}

# Keyword -> what sshd -T calls it: the old spellings sshd still reads print under the new name.
SSHD_NAME = {"logverbosity": "logverbose", "challengeresponseauthentication": "kbdinteractiveauthentication",
             "pubkeyacceptedkeytypes": "pubkeyacceptedalgorithms",
             "hostbasedacceptedkeytypes": "hostbasedacceptedalgorithms"}
# Values sshd prints under another name.
SAME_VALUE = {("loglevel", "QUIET"): "SILENT", ("loglevel", "DEBUG1"): "DEBUG"}


def sshd_name(keyword):
    base = keyword.split(":", 1)[0].lower()
    return SSHD_NAME.get(base, base)


def parse_sshd_T(text):
    """sshd -T output -> {keyword: [value, ...]} (one entry per printed line)."""
    out = {}
    for line in text.splitlines():
        if not line:
            continue
        key, _, value = line.partition(" ")
        out.setdefault(key, []).append(value)
    return out


def unquote(word):
    if len(word) >= 2 and word[0] == '"' and word[-1] == '"':
        return word[1:-1]
    return word


def seconds(text):
    """sshd's convtime(): 90, 2m, 1h30m -> seconds as a string."""
    total = 0
    for number, unit in re.findall(r"(\d+)([sSmMhHdDwW]?)", text):
        total += int(number) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[unit.lower()]
    return str(total)


def size(text):
    m = re.fullmatch(r"(\d+)([KkMmGg]?)", text)
    if not m:
        return text
    return str(int(m.group(1)) * {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[m.group(2).lower()])


def listen_addresses(addresses, ports, family):
    """What sshd -T prints for ListenAddress, from the ListenAddress, Port and AddressFamily
    values: every address with its own port or with each Port; none given: the wildcard
    addresses of the family. Compared as a sorted list (sshd's order follows getaddrinfo)."""
    ports = [unquote(p) for p in ports] or ["22"]
    family = unquote(family or "any").lower()
    out = []
    if not addresses:
        if family in ("any", "inet6"):
            out += ["[::]:%s" % p for p in ports]
        if family in ("any", "inet"):
            out += ["0.0.0.0:%s" % p for p in ports]
        return sorted(out)
    for a in addresses:
        a = unquote(a)
        port = None
        if a.startswith("["):
            host, _, rest = a[1:].partition("]")
            if rest.startswith(":"):
                port = rest[1:]
        elif a.count(":") == 1:
            host, port = a.split(":")
        else:
            host = a
        fmt = "[%s]:%s" if ":" in host else "%s:%s"
        out += [fmt % (host, p) for p in ([port] if port else ports)]
    return sorted(out)


def expected(keyword, words, from_match=False):
    """sshdctl's value words for `keyword` (driver naming) -> the list of lines sshd -T
    would print for it (without the keyword). `from_match`: the value comes from a Match
    block, which sshd copies over the global options verbatim."""
    name = sshd_name(keyword)
    if keyword.startswith("Subsystem:"):
        sub = unquote(keyword.split(":", 1)[1])
        return [" ".join([sub] + [unquote(w) for w in words])]
    if name in RAW_REST:
        return [" ".join(words)]
    vals = [unquote(w) for w in words]
    if name == "port":
        return [v if v.isdigit() else str(socket.getservbyname(v, "tcp")) for v in vals]  # sshd's a2port
    if name in MULTILINE:
        return vals
    if name in COMMA_LISTS:
        return [",".join(item for w in vals for item in w.split(",") if item)]
    if name in FOLD_CASE:
        vals = [v.lower() for v in vals]
    if name in UPPER:
        vals = [v.upper() for v in vals]
    if len(vals) == 1 and (name, vals[0]) in SAME_STATE:
        vals = [SAME_STATE[(name, vals[0])]]
    if len(vals) == 1 and (name, vals[0]) in SAME_VALUE:
        vals = [SAME_VALUE[(name, vals[0])]]
    if name == "channeltimeout" and [v.lower() for v in vals] == ["none"] and not from_match:
        return []  # no timeouts: sshd prints nothing (a Match block's "none" is printed as such)
    if name in TIMES and vals and vals[0].lower() != "none":
        vals = [seconds(vals[0])]
    if name == "rekeylimit" and vals:
        limit = "0" if vals[0].lower() == "default" else size(vals[0])
        interval = "0" if len(vals) < 2 or vals[1].lower() == "none" else seconds(vals[1])
        vals = [limit, interval]
    if name == "maxstartups" and vals and ":" not in vals[0]:
        vals = ["%s:30:%s" % (vals[0], vals[0])]
    if name == "persourcenetblocksize" and vals and ":" not in vals[0]:
        vals = [vals[0] + ":0"]  # sshd 9.2 leaves the IPv6 length at 0 when only IPv4's is given
    if name == "ipqos" and len(vals) == 1:
        vals = vals * 2
    if name == "permitlisten":
        vals = ["*:" + v if v.isdigit() else v for v in vals]
    if name == "streamlocalbindmask" and vals and re.fullmatch(r"[0-7]+", vals[0]):
        vals = ["0%o" % int(vals[0], 8)]
    return [" ".join(vals)]


def set_took_effect(keyword, words, theirs):
    """Whether sshd's lines `theirs` are what `set KEYWORD WORDS` asks for. As expected(), but a
    MaxStartups of one number N asks for start and full N only: sshd keeps the rate of an
    earlier line (servconf.c reads one field), which it never uses when start equals full
    (sshd.c, should_drop_connection); the value check compares that rate exactly."""
    vals = [unquote(w) for w in words]
    if sshd_name(keyword) == "maxstartups" and len(vals) == 1 and ":" not in vals[0] and len(theirs) == 1:
        parts = theirs[0].split(":")
        return len(parts) == 3 and parts[0] == parts[2] == vals[0]
    return theirs == expected(keyword, words)


def sshd_value(sshd, keyword):
    """The lines sshd printed for `keyword` (driver naming); Subsystem: the named one only."""
    name = sshd_name(keyword)
    lines = sshd.get(name, [])
    if keyword.startswith("Subsystem:"):
        sub = unquote(keyword.split(":", 1)[1])
        lines = [v for v in lines if v.split(" ", 1)[0] == sub]
    if name == "listenaddress":
        return sorted(lines)
    return lines
