(*
Module: Test_sshdctl_sshd
  Tests for <Sshdctl_sshd>.

  Run with: augparse -I lenses lenses/tests/test_sshdctl_sshd.aug
*)

module Test_sshdctl_sshd =

let lns = Sshdctl_sshd.lns

(************************************************************************
 * Group: Debian 12 default sshd_config, verbatim
 ************************************************************************)

let debian12 = "
# This is the sshd server system-wide configuration file.  See
# sshd_config(5) for more information.

# This sshd was compiled with PATH=/usr/local/bin:/usr/bin:/bin:/usr/games

# The strategy used for options in the default sshd_config shipped with
# OpenSSH is to specify options with their default value where
# possible, but leave them commented.  Uncommented options override the
# default value.

Include /etc/ssh/sshd_config.d/*.conf

#Port 22
#AddressFamily any
#ListenAddress 0.0.0.0
#ListenAddress ::

#HostKey /etc/ssh/ssh_host_rsa_key
#HostKey /etc/ssh/ssh_host_ecdsa_key
#HostKey /etc/ssh/ssh_host_ed25519_key

# Ciphers and keying
#RekeyLimit default none

# Logging
#SyslogFacility AUTH
#LogLevel INFO

# Authentication:

#LoginGraceTime 2m
#PermitRootLogin prohibit-password
#StrictModes yes
#MaxAuthTries 6
#MaxSessions 10

#PubkeyAuthentication yes

# Expect .ssh/authorized_keys2 to be disregarded by default in future.
#AuthorizedKeysFile\t.ssh/authorized_keys .ssh/authorized_keys2

#AuthorizedPrincipalsFile none

#AuthorizedKeysCommand none
#AuthorizedKeysCommandUser nobody

# For this to work you will also need host keys in /etc/ssh/ssh_known_hosts
#HostbasedAuthentication no
# Change to yes if you don't trust ~/.ssh/known_hosts for
# HostbasedAuthentication
#IgnoreUserKnownHosts no
# Don't read the user's ~/.rhosts and ~/.shosts files
#IgnoreRhosts yes

# To disable tunneled clear text passwords, change to no here!
#PasswordAuthentication yes
#PermitEmptyPasswords no

# Change to yes to enable challenge-response passwords (beware issues with
# some PAM modules and threads)
KbdInteractiveAuthentication no

# Kerberos options
#KerberosAuthentication no
#KerberosOrLocalPasswd yes
#KerberosTicketCleanup yes
#KerberosGetAFSToken no

# GSSAPI options
#GSSAPIAuthentication no
#GSSAPICleanupCredentials yes
#GSSAPIStrictAcceptorCheck yes
#GSSAPIKeyExchange no

# Set this to 'yes' to enable PAM authentication, account processing,
# and session processing. If this is enabled, PAM authentication will
# be allowed through the KbdInteractiveAuthentication and
# PasswordAuthentication.  Depending on your PAM configuration,
# PAM authentication via KbdInteractiveAuthentication may bypass
# the setting of \"PermitRootLogin prohibit-password\".
# If you just want the PAM account and session checks to run without
# PAM authentication, then enable this but set PasswordAuthentication
# and KbdInteractiveAuthentication to 'no'.
UsePAM yes

#AllowAgentForwarding yes
#AllowTcpForwarding yes
#GatewayPorts no
X11Forwarding yes
#X11DisplayOffset 10
#X11UseLocalhost yes
#PermitTTY yes
PrintMotd no
#PrintLastLog yes
#TCPKeepAlive yes
#PermitUserEnvironment no
#Compression delayed
#ClientAliveInterval 0
#ClientAliveCountMax 3
#UseDNS no
#PidFile /run/sshd.pid
#MaxStartups 10:30:100
#PermitTunnel no
#ChrootDirectory none
#VersionAddendum none

# no default banner path
#Banner none

# Allow client to pass locale environment variables
AcceptEnv LANG LC_*

# override default of no subsystems
Subsystem\tsftp\t/usr/lib/openssh/sftp-server

# Example of overriding settings on a per-user basis
#Match User anoncvs
#\tX11Forwarding no
#\tAllowTcpForwarding no
#\tPermitTTY no
#\tForceCommand cvs server
"
test lns get debian12 =
  { }
  { "#comment" = "This is the sshd server system-wide configuration file.  See" }
  { "#comment" = "sshd_config(5) for more information." }
  { }
  { "#comment" = "This sshd was compiled with PATH=/usr/local/bin:/usr/bin:/bin:/usr/games" }
  { }
  { "#comment" = "The strategy used for options in the default sshd_config shipped with" }
  { "#comment" = "OpenSSH is to specify options with their default value where" }
  { "#comment" = "possible, but leave them commented.  Uncommented options override the" }
  { "#comment" = "default value." }
  { }
  { "Include"
    { "1" = "/etc/ssh/sshd_config.d/*.conf" } }
  { }
  { "#comment" = "Port 22" }
  { "#comment" = "AddressFamily any" }
  { "#comment" = "ListenAddress 0.0.0.0" }
  { "#comment" = "ListenAddress ::" }
  { }
  { "#comment" = "HostKey /etc/ssh/ssh_host_rsa_key" }
  { "#comment" = "HostKey /etc/ssh/ssh_host_ecdsa_key" }
  { "#comment" = "HostKey /etc/ssh/ssh_host_ed25519_key" }
  { }
  { "#comment" = "Ciphers and keying" }
  { "#comment" = "RekeyLimit default none" }
  { }
  { "#comment" = "Logging" }
  { "#comment" = "SyslogFacility AUTH" }
  { "#comment" = "LogLevel INFO" }
  { }
  { "#comment" = "Authentication:" }
  { }
  { "#comment" = "LoginGraceTime 2m" }
  { "#comment" = "PermitRootLogin prohibit-password" }
  { "#comment" = "StrictModes yes" }
  { "#comment" = "MaxAuthTries 6" }
  { "#comment" = "MaxSessions 10" }
  { }
  { "#comment" = "PubkeyAuthentication yes" }
  { }
  { "#comment" = "Expect .ssh/authorized_keys2 to be disregarded by default in future." }
  { "#comment" = "AuthorizedKeysFile\t.ssh/authorized_keys .ssh/authorized_keys2" }
  { }
  { "#comment" = "AuthorizedPrincipalsFile none" }
  { }
  { "#comment" = "AuthorizedKeysCommand none" }
  { "#comment" = "AuthorizedKeysCommandUser nobody" }
  { }
  { "#comment" = "For this to work you will also need host keys in /etc/ssh/ssh_known_hosts" }
  { "#comment" = "HostbasedAuthentication no" }
  { "#comment" = "Change to yes if you don't trust ~/.ssh/known_hosts for" }
  { "#comment" = "HostbasedAuthentication" }
  { "#comment" = "IgnoreUserKnownHosts no" }
  { "#comment" = "Don't read the user's ~/.rhosts and ~/.shosts files" }
  { "#comment" = "IgnoreRhosts yes" }
  { }
  { "#comment" = "To disable tunneled clear text passwords, change to no here!" }
  { "#comment" = "PasswordAuthentication yes" }
  { "#comment" = "PermitEmptyPasswords no" }
  { }
  { "#comment" = "Change to yes to enable challenge-response passwords (beware issues with" }
  { "#comment" = "some PAM modules and threads)" }
  { "KbdInteractiveAuthentication" = "no" }
  { }
  { "#comment" = "Kerberos options" }
  { "#comment" = "KerberosAuthentication no" }
  { "#comment" = "KerberosOrLocalPasswd yes" }
  { "#comment" = "KerberosTicketCleanup yes" }
  { "#comment" = "KerberosGetAFSToken no" }
  { }
  { "#comment" = "GSSAPI options" }
  { "#comment" = "GSSAPIAuthentication no" }
  { "#comment" = "GSSAPICleanupCredentials yes" }
  { "#comment" = "GSSAPIStrictAcceptorCheck yes" }
  { "#comment" = "GSSAPIKeyExchange no" }
  { }
  { "#comment" = "Set this to 'yes' to enable PAM authentication, account processing," }
  { "#comment" = "and session processing. If this is enabled, PAM authentication will" }
  { "#comment" = "be allowed through the KbdInteractiveAuthentication and" }
  { "#comment" = "PasswordAuthentication.  Depending on your PAM configuration," }
  { "#comment" = "PAM authentication via KbdInteractiveAuthentication may bypass" }
  { "#comment" = "the setting of \"PermitRootLogin prohibit-password\"." }
  { "#comment" = "If you just want the PAM account and session checks to run without" }
  { "#comment" = "PAM authentication, then enable this but set PasswordAuthentication" }
  { "#comment" = "and KbdInteractiveAuthentication to 'no'." }
  { "UsePAM" = "yes" }
  { }
  { "#comment" = "AllowAgentForwarding yes" }
  { "#comment" = "AllowTcpForwarding yes" }
  { "#comment" = "GatewayPorts no" }
  { "X11Forwarding" = "yes" }
  { "#comment" = "X11DisplayOffset 10" }
  { "#comment" = "X11UseLocalhost yes" }
  { "#comment" = "PermitTTY yes" }
  { "PrintMotd" = "no" }
  { "#comment" = "PrintLastLog yes" }
  { "#comment" = "TCPKeepAlive yes" }
  { "#comment" = "PermitUserEnvironment no" }
  { "#comment" = "Compression delayed" }
  { "#comment" = "ClientAliveInterval 0" }
  { "#comment" = "ClientAliveCountMax 3" }
  { "#comment" = "UseDNS no" }
  { "#comment" = "PidFile /run/sshd.pid" }
  { "#comment" = "MaxStartups 10:30:100" }
  { "#comment" = "PermitTunnel no" }
  { "#comment" = "ChrootDirectory none" }
  { "#comment" = "VersionAddendum none" }
  { }
  { "#comment" = "no default banner path" }
  { "#comment" = "Banner none" }
  { }
  { "#comment" = "Allow client to pass locale environment variables" }
  { "AcceptEnv"
    { "1" = "LANG" }
    { "2" = "LC_*" } }
  { }
  { "#comment" = "override default of no subsystems" }
  { "Subsystem"
    { "sftp" = "/usr/lib/openssh/sftp-server" } }
  { }
  { "#comment" = "Example of overriding settings on a per-user basis" }
  { "#comment" = "Match User anoncvs" }
  { "#comment" = "X11Forwarding no" }
  { "#comment" = "AllowTcpForwarding no" }
  { "#comment" = "PermitTTY no" }
  { "#comment" = "ForceCommand cvs server" }


(* Unchanged tree: written back byte for byte *)
test lns put debian12 after set "/UsePAM" "yes" = debian12

(* Adding a global keyword: appended without indentation *)
test lns put "Include /etc/ssh/sshd_config.d/*.conf\nUsePAM yes\n"
  after set "/PermitRootLogin[last()+1]" "no" =
"Include /etc/ssh/sshd_config.d/*.conf
UsePAM yes
PermitRootLogin no
"

(* Changing values in place keeps tabs and the list layout *)
test lns put "AcceptEnv LANG LC_*\nSubsystem\tsftp\t/usr/lib/openssh/sftp-server\n"
  after set "/AcceptEnv/3" "TZ";
        set "/Subsystem/sftp" "internal-sftp -l INFO" =
"AcceptEnv LANG LC_* TZ
Subsystem\tsftp\tinternal-sftp -l INFO
"

(************************************************************************
 * Group: Separators, case, indentation, quotes
 ************************************************************************)

test lns get "Port 22
Port\t2222
Port=2223
Port = 2224
Port\t=\t2225
  ListenAddress 0.0.0.0
\tListenAddress ::
permitrootlogin no
PERMITROOTLOGIN no
PasswordAuthentication no   \t
Banner \"/etc/my banner\"
Banner '/etc/single quoted'
ForceCommand /usr/bin/cmd -x \"a b\"  'c d' e\\ f
AuthorizedPrincipalsFile /etc/ssh/principals/%u#suffix
SetEnv\t\"GREETING=hello world\" EMPTY=\"\"
\t
#
  #\t
" =
  { "Port" = "22" }
  { "Port" = "2222" }
  { "Port" = "2223" }
  { "Port" = "2224" }
  { "Port" = "2225" }
  { "ListenAddress" = "0.0.0.0" }
  { "ListenAddress" = "::" }
  { "permitrootlogin" = "no" }
  { "PERMITROOTLOGIN" = "no" }
  { "PasswordAuthentication" = "no" }
  { "Banner" = "\"/etc/my banner\"" }
  { "Banner" = "'/etc/single quoted'" }
  { "ForceCommand" = "/usr/bin/cmd -x \"a b\"  'c d' e\\ f" }
  { "AuthorizedPrincipalsFile" = "/etc/ssh/principals/%u#suffix" }
  { "SetEnv"
    { "1" = "\"GREETING=hello world\"" }
    { "2" = "EMPTY=\"\"" } }
  { }
  { }
  { }

(* The original separator and indentation are kept when a value changes *)
test lns put "Port=22\nPort = 23\n  ListenAddress\t0.0.0.0  \n"
  after set "/Port[1]" "2222";
        set "/Port[2]" "2223";
        set "/ListenAddress" "127.0.0.1" =
"Port=2222
Port = 2223
  ListenAddress\t127.0.0.1  
"

(* A value that is not valid sshd_config syntax cannot be written *)
test lns put "Port 22\n" after set "/Banner" "\"unterminated" = *
test lns put "Port 22\n" after set "/Banner" "#comment" = *

(* Unbalanced quotes and a keyword without a value do not parse *)
test lns get "Banner \"/etc/banner\n" = *
test lns get "UsePAM\n" = *

(************************************************************************
 * Group: Trailing comments
 ************************************************************************)

test lns get "PermitRootLogin no # never\n\tUsePAM yes\t#PAM   \nX11Forwarding no #\nBanner \"/etc/a # b\" #real\n" =
  { "PermitRootLogin" = "no"
    { "#comment" = "never" } }
  { "UsePAM" = "yes"
    { "#comment" = "PAM" } }
  { "X11Forwarding" = "no" }
  { "Banner" = "\"/etc/a # b\""
    { "#comment" = "real" } }

test lns put "PermitRootLogin no # never\n"
  after set "/PermitRootLogin" "yes";
        set "/PermitRootLogin/#comment" "sometimes" =
"PermitRootLogin yes # sometimes
"

test lns put "PermitRootLogin no\n"
  after set "/PermitRootLogin/#comment" "added" =
"PermitRootLogin no # added
"

test lns put "# first\n" after set "/#comment[last()+1]" "second" =
"# first
# second
"

(************************************************************************
 * Group: Space-separated lists
 ************************************************************************)

test lns get "AcceptEnv LANG LC_*
acceptenv XMODIFIERS
AllowGroups admins \"domain users\"
AllowUsers root@10.0.0.0/8 alice bob
DenyGroups nogroup
DenyUsers mallory  eve
AuthorizedKeysFile .ssh/authorized_keys .ssh/authorized_keys2
AuthenticationMethods publickey,password publickey,keyboard-interactive
ChannelTimeout session:*=5m agent-connection=1h
Include /etc/ssh/sshd_config.d/*.conf /etc/ssh/extra/*.conf
LOGVERBOSITY kex.c:*:1000 *:kex_exchange_identification():*
PermitListen 8080 localhost:9090
PermitOpen host1:22 host2:80 # tunnels
SetEnv A=1 B=2
PerSourcePenalties crash:90 authfail:5 noauth:1 max:600
IPQoS=af21 cs1
" =
  { "AcceptEnv"
    { "1" = "LANG" }
    { "2" = "LC_*" } }
  { "acceptenv"
    { "1" = "XMODIFIERS" } }
  { "AllowGroups"
    { "1" = "admins" }
    { "2" = "\"domain users\"" } }
  { "AllowUsers"
    { "1" = "root@10.0.0.0/8" }
    { "2" = "alice" }
    { "3" = "bob" } }
  { "DenyGroups"
    { "1" = "nogroup" } }
  { "DenyUsers"
    { "1" = "mallory" }
    { "2" = "eve" } }
  { "AuthorizedKeysFile"
    { "1" = ".ssh/authorized_keys" }
    { "2" = ".ssh/authorized_keys2" } }
  { "AuthenticationMethods"
    { "1" = "publickey,password" }
    { "2" = "publickey,keyboard-interactive" } }
  { "ChannelTimeout"
    { "1" = "session:*=5m" }
    { "2" = "agent-connection=1h" } }
  { "Include"
    { "1" = "/etc/ssh/sshd_config.d/*.conf" }
    { "2" = "/etc/ssh/extra/*.conf" } }
  { "LOGVERBOSITY"
    { "1" = "kex.c:*:1000" }
    { "2" = "*:kex_exchange_identification():*" } }
  { "PermitListen"
    { "1" = "8080" }
    { "2" = "localhost:9090" } }
  { "PermitOpen"
    { "1" = "host1:22" }
    { "2" = "host2:80" }
    { "#comment" = "tunnels" } }
  { "SetEnv"
    { "1" = "A=1" }
    { "2" = "B=2" } }
  { "PerSourcePenalties"
    { "1" = "crash:90" }
    { "2" = "authfail:5" }
    { "3" = "noauth:1" }
    { "4" = "max:600" } }
  { "IPQoS"
    { "1" = "af21" }
    { "2" = "cs1" } }

(* Items keep their separators; new items are separated by one space.
   A trailing comment stays last: new items go before it *)
test lns put "DenyUsers mallory\t eve # bad\n"
  after insa "3" "/DenyUsers/2";
        set "/DenyUsers/3" "trudy" =
"DenyUsers mallory\t eve trudy # bad
"

test lns put "DenyUsers mallory eve\n"
  after rm "/DenyUsers/1" =
"DenyUsers eve
"

test lns put "UsePAM yes\n"
  after set "/AllowUsers/1" "alice";
        set "/AllowUsers/2" "bob" =
"UsePAM yes
AllowUsers alice bob
"

(************************************************************************
 * Group: Comma-separated lists
 ************************************************************************)

test lns get "Ciphers +aes128-cbc,aes256-cbc
MACs -hmac-sha1,umac-64@openssh.com
KexAlgorithms ^sntrup761x25519-sha512@openssh.com
HostKeyAlgorithms ssh-ed25519,rsa-sha2-512
HostbasedAcceptedAlgorithms ssh-ed25519
HostbasedAcceptedKeyTypes ssh-rsa
PubkeyAcceptedAlgorithms=+ssh-rsa,ssh-rsa-cert-v01@openssh.com
pubkeyacceptedkeytypes ssh-ed25519
CASignatureAlgorithms ssh-ed25519,ecdsa-sha2-nistp256
GSSAPIKexAlgorithms gss-curve25519-sha256-,gss-group16-sha512-
PerSourcePenaltyExemptList 10.0.0.0/8,192.168.0.0/16 # lan
CIPHERS \"chacha20-poly1305@openssh.com,aes256-gcm@openssh.com\"
" =
  { "Ciphers"
    { "1" = "+aes128-cbc" }
    { "2" = "aes256-cbc" } }
  { "MACs"
    { "1" = "-hmac-sha1" }
    { "2" = "umac-64@openssh.com" } }
  { "KexAlgorithms"
    { "1" = "^sntrup761x25519-sha512@openssh.com" } }
  { "HostKeyAlgorithms"
    { "1" = "ssh-ed25519" }
    { "2" = "rsa-sha2-512" } }
  { "HostbasedAcceptedAlgorithms"
    { "1" = "ssh-ed25519" } }
  { "HostbasedAcceptedKeyTypes"
    { "1" = "ssh-rsa" } }
  { "PubkeyAcceptedAlgorithms"
    { "1" = "+ssh-rsa" }
    { "2" = "ssh-rsa-cert-v01@openssh.com" } }
  { "pubkeyacceptedkeytypes"
    { "1" = "ssh-ed25519" } }
  { "CASignatureAlgorithms"
    { "1" = "ssh-ed25519" }
    { "2" = "ecdsa-sha2-nistp256" } }
  { "GSSAPIKexAlgorithms"
    { "1" = "gss-curve25519-sha256-" }
    { "2" = "gss-group16-sha512-" } }
  { "PerSourcePenaltyExemptList"
    { "1" = "10.0.0.0/8" }
    { "2" = "192.168.0.0/16" }
    { "#comment" = "lan" } }
  { "CIPHERS"
    { "1" = "chacha20-poly1305@openssh.com" }
    { "2" = "aes256-gcm@openssh.com" } }

(* Two words are not a comma-separated list: the line falls back to a scalar (sshd -t
   rejects it before anything is written) *)
test lns get "Ciphers aes128-ctr, aes256-ctr\n" =
  { "Ciphers" = "aes128-ctr, aes256-ctr" }

test lns put "Ciphers\taes128-ctr,aes256-ctr\n"
  after set "/Ciphers/3" "aes128-gcm@openssh.com" =
"Ciphers\taes128-ctr,aes256-ctr,aes128-gcm@openssh.com
"

test lns put "MACs \"hmac-sha2-256,hmac-sha2-512\"\n"
  after rm "/MACs/1" =
"MACs \"hmac-sha2-512\"
"

test lns put "Port 22\n"
  after set "/KexAlgorithms/1" "curve25519-sha256";
        set "/KexAlgorithms/2" "diffie-hellman-group16-sha512" =
"Port 22
KexAlgorithms curve25519-sha256,diffie-hellman-group16-sha512
"

(************************************************************************
 * Group: Subsystem
 ************************************************************************)

test lns get "Subsystem\tsftp\t/usr/lib/openssh/sftp-server -l INFO
subsystem netconf /usr/sbin/netconf-subsys  # netconf
SUBSYSTEM = powershell \"/usr/bin/pwsh\" -sshs -NoLogo
" =
  { "Subsystem"
    { "sftp" = "/usr/lib/openssh/sftp-server -l INFO" } }
  { "subsystem"
    { "netconf" = "/usr/sbin/netconf-subsys" }
    { "#comment" = "netconf" } }
  { "SUBSYSTEM"
    { "powershell" = "\"/usr/bin/pwsh\" -sshs -NoLogo" } }

test lns put "Subsystem\tsftp\t/usr/lib/openssh/sftp-server\n"
  after set "/Subsystem/sftp" "internal-sftp -f AUTH -l VERBOSE" =
"Subsystem\tsftp\tinternal-sftp -f AUTH -l VERBOSE
"

test lns put "Port 22\n"
  after set "/Subsystem/sftp" "internal-sftp" =
"Port 22
Subsystem sftp internal-sftp
"

test lns put "DenyUsers mallory # bad\n"
  after set "/DenyUsers/2" "trudy" = *

(************************************************************************
 * Group: Match blocks
 ************************************************************************)

(* "Match all" alone, at the end of the file *)
test lns get "Port 22\nMatch all\n" =
  { "Port" = "22" }
  { "Match"
    { "Condition"
      { "all" } }
    { "Settings" } }

(* "Match all" followed by more lines that apply to every connection *)
test lns get "Match User backup
  ForceCommand /usr/local/bin/backup
match ALL # back to global settings
PasswordAuthentication no
X11Forwarding no
" =
  { "Match"
    { "Condition"
      { "User" = "backup" } }
    { "Settings"
      { "ForceCommand" = "/usr/local/bin/backup" } } }
  { "match"
    { "Condition"
      { "ALL" }
      { "#comment" = "back to global settings" } }
    { "Settings"
      { "PasswordAuthentication" = "no" }
      { "X11Forwarding" = "no" } } }

(* "all" cannot be combined with other criteria *)
test lns get "Match all User root\n" = *

(* Several criteria, negations, quotes, "=", tabs, any case, blank lines
   and comments inside blocks, and a file that ends inside a block *)
test lns get "UsePAM yes
Match User root Address 10.0.0.0/8,!10.1.0.0/16
  PasswordAuthentication yes
  # allowed from the LAN only

\tAllowTcpForwarding no
Match\tgroup\t\"sftp users\",!admins  LocalPort 2222 # sftp
  ChrootDirectory %h
  ForceCommand internal-sftp
  Subsystem sftp internal-sftp -l INFO
  AcceptEnv LANG
  Ciphers aes256-gcm@openssh.com
MATCH Host *.example.com,!bastion.example.com LocalAddress 192.0.2.1 RDomain rdomain1
    PermitTTY no
Match Invalid-User *
Match User=alice
Banner none
" =
  { "UsePAM" = "yes" }
  { "Match"
    { "Condition"
      { "User" = "root" }
      { "Address" = "10.0.0.0/8,!10.1.0.0/16" } }
    { "Settings"
      { "PasswordAuthentication" = "yes" }
      { "#comment" = "allowed from the LAN only" }
      { }
      { "AllowTcpForwarding" = "no" } } }
  { "Match"
    { "Condition"
      { "group" = "\"sftp users\",!admins" }
      { "LocalPort" = "2222" }
      { "#comment" = "sftp" } }
    { "Settings"
      { "ChrootDirectory" = "%h" }
      { "ForceCommand" = "internal-sftp" }
      { "Subsystem"
        { "sftp" = "internal-sftp -l INFO" } }
      { "AcceptEnv"
        { "1" = "LANG" } }
      { "Ciphers"
        { "1" = "aes256-gcm@openssh.com" } } } }
  { "MATCH"
    { "Condition"
      { "Host" = "*.example.com,!bastion.example.com" }
      { "LocalAddress" = "192.0.2.1" }
      { "RDomain" = "rdomain1" } }
    { "Settings"
      { "PermitTTY" = "no" } } }
  { "Match"
    { "Condition"
      { "Invalid-User" = "*" } }
    { "Settings" } }
  { "Match"
    { "Condition"
      { "User" = "alice" } }
    { "Settings"
      { "Banner" = "none" } } }

(* A criterion needs a pattern *)
test lns get "Match User\n" = *

(* Adding a keyword before the first Match block *)
test lns put "Port 22

Match User root
  PasswordAuthentication yes
"
  after insb "PermitRootLogin" "/Match[1]";
        set "/PermitRootLogin" "prohibit-password" =
"Port 22

PermitRootLogin prohibit-password
Match User root
  PasswordAuthentication yes
"

(* Adding a keyword to a block: indented with two spaces *)
test lns put "Match User root\n\tPasswordAuthentication yes\n"
  after set "/Match/Settings/PermitTTY" "no";
        set "/Match/Settings/AllowUsers/1" "root";
        set "/Match/Settings/#comment" "managed" =
"Match User root
\tPasswordAuthentication yes
  PermitTTY no
  AllowUsers root
  # managed
"

(* Adding a new Match block at the end *)
test lns put "Port 22\nMatch all\n"
  after set "/Match[last()+1]/Condition/User" "root";
        set "/Match[last()]/Settings/PasswordAuthentication" "yes" =
"Port 22
Match all
Match User root
  PasswordAuthentication yes
"

test lns put "Port 22\n"
  after set "/Match/Condition/Group" "sftp,!admins";
        set "/Match/Condition/Address" "10.0.0.0/8";
        set "/Match/Settings/ChrootDirectory" "/srv/%u";
        set "/Match/Settings/Ciphers/1" "aes256-gcm@openssh.com";
        set "/Match/Settings/Ciphers/2" "aes128-gcm@openssh.com" =
"Port 22
Match Group sftp,!admins Address 10.0.0.0/8
  ChrootDirectory /srv/%u
  Ciphers aes256-gcm@openssh.com,aes128-gcm@openssh.com
"

test lns put "Port 22\n"
  after set "/Match/Condition/all" "";
        set "/Match/Settings/X11Forwarding" "no" =
"Port 22
Match all
  X11Forwarding no
"

(* Changing a criterion and a setting keeps the layout *)
test lns put "Match User=root # admins\n  PasswordAuthentication = yes\n"
  after set "/Match/Condition/User" "root,admin";
        set "/Match/Settings/PasswordAuthentication" "no" =
"Match User=root,admin # admins
  PasswordAuthentication = no
"

(* A global keyword cannot follow a Match block *)
test lns put "Match all\n"
  after set "/Port" "22" = *

(************************************************************************
 * Group: Line endings
 ************************************************************************)

(* Carriage returns and form feeds at the end of a line are whitespace *)
test lns get "# dos\r\nPort 22\r\n\r\nUsePAM yes # pam\r\nBanner none\f\n" =
  { "#comment" = "dos" }
  { "Port" = "22" }
  { }
  { "UsePAM" = "yes"
    { "#comment" = "pam" } }
  { "Banner" = "none" }

(* The last line must end with a newline *)
test lns get "Port 22" = *
test lns get "Match all" = *
