(*
Module: Test_sshdctl_authorized_keys
  Tests for <Sshdctl_authorized_keys>.

  Run with: augparse -I lenses lenses/tests/test_sshdctl_authorized_keys.aug
*)

module Test_sshdctl_authorized_keys =

let lns = Sshdctl_authorized_keys.lns

(************************************************************************
 * Group: Comments, blank lines, plain keys
 ************************************************************************)

let plain = "# ~/.ssh/authorized_keys

ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJrqNcktDHB8T8CyVtb5Y3ef/ygZPto7X78Oj4nShefg ed25519@example
ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBPkoU3B8GL78aNrZDHUIRyrU71yNXrLH8i+khiig37oa3XqHfcnX4IjoPi0ZHCjPAqoCiRZuRS2IKWlIv78PXqo=
  #\t
\t# indented comment  
ssh-rsa\tAAAAB3NzaC1yc2EAAAAgwwJLojaeNL8IDnY4f18q+6y0xqfIFstj55u/ocpoZ4U=  Jane Doe <jane@example.com>  
"

test lns get plain =
  { "#comment" = "~/.ssh/authorized_keys" }
  { }
  { "key" = "AAAAC3NzaC1lZDI1NTE5AAAAIJrqNcktDHB8T8CyVtb5Y3ef/ygZPto7X78Oj4nShefg"
    { "type" = "ssh-ed25519" }
    { "comment" = "ed25519@example" } }
  { "key" = "AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBPkoU3B8GL78aNrZDHUIRyrU71yNXrLH8i+khiig37oa3XqHfcnX4IjoPi0ZHCjPAqoCiRZuRS2IKWlIv78PXqo="
    { "type" = "ecdsa-sha2-nistp256" } }
  { }
  { "#comment" = "indented comment" }
  { "key" = "AAAAB3NzaC1yc2EAAAAgwwJLojaeNL8IDnY4f18q+6y0xqfIFstj55u/ocpoZ4U="
    { "type" = "ssh-rsa" }
    { "comment" = "Jane Doe <jane@example.com>" } }

(* Unchanged tree: written back byte for byte *)
test lns put plain after set "/#comment[1]" "~/.ssh/authorized_keys" = plain

(************************************************************************
 * Group: Every key type
 ************************************************************************)

test lns get "ssh-rsa AAAAB3NzaC1yc2EAAAAgwwJLojaeNL8IDnY4f18q+6y0xqfIFstj55u/ocpoZ4U= rsa
ssh-dss AAAAB3NzaC1kc3MAAAAgj3nBkDpNlw9/kRKm1Yq/QgZNTKv9EpY3WCXebmWyCRI= dss
ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAgnWpwk2sJQEqJ+QvoqiEpRFZWMGpEXpZEhL92tTJhAl4= p256
ecdsa-sha2-nistp384 AAAAE2VjZHNhLXNoYTItbmlzdHAzODQAAAAg09MF5dRDvUtp9L0W9JFRPoSzAn0f8XMyk8qgTrC2J24= p384
ecdsa-sha2-nistp521 AAAAE2VjZHNhLXNoYTItbmlzdHA1MjEAAAAgNoJanWPwF01KG+xO98GE6QCAHbnbMkfeBQxYVemO4w4= p521
ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIWNOkczKjUldIAEVcSkZ/1ZFtn5c/rUehuiQ0Iwa4tw ed25519
sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29tAAAAIFcfj/TJYNItnYuwE3zowBI47JXLioRv9j49C2Obp/ag sk-ed25519
sk-ecdsa-sha2-nistp256@openssh.com AAAAInNrLWVjZHNhLXNoYTItbmlzdHAyNTZAb3BlbnNzaC5jb20AAAAgliG1OSUgFubfyhwH1fF5KcrIuSeGVD/W8Ssh31upUDo= sk-ecdsa
ssh-rsa-cert-v01@openssh.com AAAAHHNzaC1yc2EtY2VydC12MDFAb3BlbnNzaC5jb20AAAAgOuiPrXWZR78z/yvQE9R7bNFjw5UUwQ2pTmgUdxq4VJ8= rsa-cert
ssh-dss-cert-v01@openssh.com AAAAHHNzaC1kc3MtY2VydC12MDFAb3BlbnNzaC5jb20AAAAgB6fS/vIVHKYN+4sIDiD19wiizJysZ0Zz5JwmB+F9R+c= dss-cert
ecdsa-sha2-nistp256-cert-v01@openssh.com AAAAKGVjZHNhLXNoYTItbmlzdHAyNTYtY2VydC12MDFAb3BlbnNzaC5jb20AAAAgmFWUjVQgiiH3ZoSNtETNLiTMsiu+DpCN8YVXrluqC0A= p256-cert
ecdsa-sha2-nistp384-cert-v01@openssh.com AAAAKGVjZHNhLXNoYTItbmlzdHAzODQtY2VydC12MDFAb3BlbnNzaC5jb20AAAAgYHs1LXYjGjkFUzmfQmKsYT3Y9BK/dz7xbjEYCsrnmAU= p384-cert
ecdsa-sha2-nistp521-cert-v01@openssh.com AAAAKGVjZHNhLXNoYTItbmlzdHA1MjEtY2VydC12MDFAb3BlbnNzaC5jb20AAAAgNKQbeorOBQz3Dq+RuVwHgIOh473PumP1GZFrgt5NbxA= p521-cert
ssh-ed25519-cert-v01@openssh.com AAAAIHNzaC1lZDI1NTE5LWNlcnQtdjAxQG9wZW5zc2guY29tAAAAIC+S+w0/9hpYQURUT02CnqHF2r12Y2/u3cChXuvD5LgI ed25519-cert
sk-ssh-ed25519-cert-v01@openssh.com AAAAI3NrLXNzaC1lZDI1NTE5LWNlcnQtdjAxQG9wZW5zc2guY29tAAAAIN352nIjBPAJYFpqwXmQ3Oq+5/S0mSGEs2yd/PyJgG7u sk-ed25519-cert
sk-ecdsa-sha2-nistp256-cert-v01@openssh.com AAAAK3NrLWVjZHNhLXNoYTItbmlzdHAyNTYtY2VydC12MDFAb3BlbnNzaC5jb20AAAAg4tWwc5bM+xQegHjSvrVaxyumsPSC1DzDoLwmx5Knk7U= sk-ecdsa-cert
" =
  { "key" = "AAAAB3NzaC1yc2EAAAAgwwJLojaeNL8IDnY4f18q+6y0xqfIFstj55u/ocpoZ4U="
    { "type" = "ssh-rsa" }
    { "comment" = "rsa" } }
  { "key" = "AAAAB3NzaC1kc3MAAAAgj3nBkDpNlw9/kRKm1Yq/QgZNTKv9EpY3WCXebmWyCRI="
    { "type" = "ssh-dss" }
    { "comment" = "dss" } }
  { "key" = "AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAgnWpwk2sJQEqJ+QvoqiEpRFZWMGpEXpZEhL92tTJhAl4="
    { "type" = "ecdsa-sha2-nistp256" }
    { "comment" = "p256" } }
  { "key" = "AAAAE2VjZHNhLXNoYTItbmlzdHAzODQAAAAg09MF5dRDvUtp9L0W9JFRPoSzAn0f8XMyk8qgTrC2J24="
    { "type" = "ecdsa-sha2-nistp384" }
    { "comment" = "p384" } }
  { "key" = "AAAAE2VjZHNhLXNoYTItbmlzdHA1MjEAAAAgNoJanWPwF01KG+xO98GE6QCAHbnbMkfeBQxYVemO4w4="
    { "type" = "ecdsa-sha2-nistp521" }
    { "comment" = "p521" } }
  { "key" = "AAAAC3NzaC1lZDI1NTE5AAAAIIWNOkczKjUldIAEVcSkZ/1ZFtn5c/rUehuiQ0Iwa4tw"
    { "type" = "ssh-ed25519" }
    { "comment" = "ed25519" } }
  { "key" = "AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29tAAAAIFcfj/TJYNItnYuwE3zowBI47JXLioRv9j49C2Obp/ag"
    { "type" = "sk-ssh-ed25519@openssh.com" }
    { "comment" = "sk-ed25519" } }
  { "key" = "AAAAInNrLWVjZHNhLXNoYTItbmlzdHAyNTZAb3BlbnNzaC5jb20AAAAgliG1OSUgFubfyhwH1fF5KcrIuSeGVD/W8Ssh31upUDo="
    { "type" = "sk-ecdsa-sha2-nistp256@openssh.com" }
    { "comment" = "sk-ecdsa" } }
  { "key" = "AAAAHHNzaC1yc2EtY2VydC12MDFAb3BlbnNzaC5jb20AAAAgOuiPrXWZR78z/yvQE9R7bNFjw5UUwQ2pTmgUdxq4VJ8="
    { "type" = "ssh-rsa-cert-v01@openssh.com" }
    { "comment" = "rsa-cert" } }
  { "key" = "AAAAHHNzaC1kc3MtY2VydC12MDFAb3BlbnNzaC5jb20AAAAgB6fS/vIVHKYN+4sIDiD19wiizJysZ0Zz5JwmB+F9R+c="
    { "type" = "ssh-dss-cert-v01@openssh.com" }
    { "comment" = "dss-cert" } }
  { "key" = "AAAAKGVjZHNhLXNoYTItbmlzdHAyNTYtY2VydC12MDFAb3BlbnNzaC5jb20AAAAgmFWUjVQgiiH3ZoSNtETNLiTMsiu+DpCN8YVXrluqC0A="
    { "type" = "ecdsa-sha2-nistp256-cert-v01@openssh.com" }
    { "comment" = "p256-cert" } }
  { "key" = "AAAAKGVjZHNhLXNoYTItbmlzdHAzODQtY2VydC12MDFAb3BlbnNzaC5jb20AAAAgYHs1LXYjGjkFUzmfQmKsYT3Y9BK/dz7xbjEYCsrnmAU="
    { "type" = "ecdsa-sha2-nistp384-cert-v01@openssh.com" }
    { "comment" = "p384-cert" } }
  { "key" = "AAAAKGVjZHNhLXNoYTItbmlzdHA1MjEtY2VydC12MDFAb3BlbnNzaC5jb20AAAAgNKQbeorOBQz3Dq+RuVwHgIOh473PumP1GZFrgt5NbxA="
    { "type" = "ecdsa-sha2-nistp521-cert-v01@openssh.com" }
    { "comment" = "p521-cert" } }
  { "key" = "AAAAIHNzaC1lZDI1NTE5LWNlcnQtdjAxQG9wZW5zc2guY29tAAAAIC+S+w0/9hpYQURUT02CnqHF2r12Y2/u3cChXuvD5LgI"
    { "type" = "ssh-ed25519-cert-v01@openssh.com" }
    { "comment" = "ed25519-cert" } }
  { "key" = "AAAAI3NrLXNzaC1lZDI1NTE5LWNlcnQtdjAxQG9wZW5zc2guY29tAAAAIN352nIjBPAJYFpqwXmQ3Oq+5/S0mSGEs2yd/PyJgG7u"
    { "type" = "sk-ssh-ed25519-cert-v01@openssh.com" }
    { "comment" = "sk-ed25519-cert" } }
  { "key" = "AAAAK3NrLWVjZHNhLXNoYTItbmlzdHAyNTYtY2VydC12MDFAb3BlbnNzaC5jb20AAAAg4tWwc5bM+xQegHjSvrVaxyumsPSC1DzDoLwmx5Knk7U="
    { "type" = "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com" }
    { "comment" = "sk-ecdsa-cert" } }

(************************************************************************
 * Group: Options
 ************************************************************************)

(* Quoted values hold commas, spaces, "#" and escaped quotes; options
   repeat; flags only; a key without a comment *)
let with_options = "command=\"/usr/bin/rsync --server -e.Lsf . /srv/backup # ro\",from=\"10.0.0.0/8,!10.1.0.0/16,*.example.com\",no-pty,no-agent-forwarding ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIWNOkczKjUldIAEVcSkZ/1ZFtn5c/rUehuiQ0Iwa4tw backup@example
environment=\"LANG=C\",environment=\"GREETING=hello, world\",expiry-time=\"20301231\",permitopen=\"localhost:8080\",permitopen=\"[::1]:22\",permitlisten=\"127.0.0.1:9000\" ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAgnWpwk2sJQEqJ+QvoqiEpRFZWMGpEXpZEhL92tTJhAl4=
restrict,pty,no-touch-required,verify-required sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29tAAAAIFcfj/TJYNItnYuwE3zowBI47JXLioRv9j49C2Obp/ag yubikey
cert-authority,principals=\"alice,bob\" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIWNOkczKjUldIAEVcSkZ/1ZFtn5c/rUehuiQ0Iwa4tw CA for users
command=\"echo \\\"quoted, really\\\" done\",tunnel=\"0\"\tssh-rsa-cert-v01@openssh.com AAAAHHNzaC1yc2EtY2VydC12MDFAb3BlbnNzaC5jb20AAAAgOuiPrXWZR78z/yvQE9R7bNFjw5UUwQ2pTmgUdxq4VJ8=
"

test lns get with_options =
  { "key" = "AAAAC3NzaC1lZDI1NTE5AAAAIIWNOkczKjUldIAEVcSkZ/1ZFtn5c/rUehuiQ0Iwa4tw"
    { "options"
      { "command" = "/usr/bin/rsync --server -e.Lsf . /srv/backup # ro" }
      { "from" = "10.0.0.0/8,!10.1.0.0/16,*.example.com" }
      { "no-pty" }
      { "no-agent-forwarding" } }
    { "type" = "ssh-ed25519" }
    { "comment" = "backup@example" } }
  { "key" = "AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAgnWpwk2sJQEqJ+QvoqiEpRFZWMGpEXpZEhL92tTJhAl4="
    { "options"
      { "environment" = "LANG=C" }
      { "environment" = "GREETING=hello, world" }
      { "expiry-time" = "20301231" }
      { "permitopen" = "localhost:8080" }
      { "permitopen" = "[::1]:22" }
      { "permitlisten" = "127.0.0.1:9000" } }
    { "type" = "ecdsa-sha2-nistp256" } }
  { "key" = "AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29tAAAAIFcfj/TJYNItnYuwE3zowBI47JXLioRv9j49C2Obp/ag"
    { "options"
      { "restrict" }
      { "pty" }
      { "no-touch-required" }
      { "verify-required" } }
    { "type" = "sk-ssh-ed25519@openssh.com" }
    { "comment" = "yubikey" } }
  { "key" = "AAAAC3NzaC1lZDI1NTE5AAAAIIWNOkczKjUldIAEVcSkZ/1ZFtn5c/rUehuiQ0Iwa4tw"
    { "options"
      { "cert-authority" }
      { "principals" = "alice,bob" } }
    { "type" = "ssh-ed25519" }
    { "comment" = "CA for users" } }
  { "key" = "AAAAHHNzaC1yc2EtY2VydC12MDFAb3BlbnNzaC5jb20AAAAgOuiPrXWZR78z/yvQE9R7bNFjw5UUwQ2pTmgUdxq4VJ8="
    { "options"
      { "command" = "echo \\\"quoted, really\\\" done" }
      { "tunnel" = "0" } }
    { "type" = "ssh-rsa-cert-v01@openssh.com" } }

(* Flags have no value (NULL); an empty string is written as name="" *)
test lns put with_options after clear "/key[1]/options/no-pty" = with_options

(* Broken lines do not parse *)
test lns get "no-pty AAAAC3NzaC1lZDI1NTE5AAAAIIWNOkczKjUldIAEVcSkZ/1ZFtn5c/rUehuiQ0Iwa4tw\n" = *
test lns get "command=\"unterminated ssh-ed25519 AAAAC3NzaC1lZDI1NTE5\n" = *
test lns get "no-pty, ssh-ed25519 AAAAC3NzaC1lZDI1NTE5\n" = *

(************************************************************************
 * Group: Editing
 ************************************************************************)

test lns put "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIWNOkczKjUldIAEVcSkZ/1ZFtn5c/rUehuiQ0Iwa4tw old\n"
  after set "/key/comment" "new comment";
        insb "options" "/key/type";
        clear "/key/options/restrict";
        set "/key/options/from" "192.0.2.0/24,!192.0.2.1";
        set "/key/options/command" "echo \\\"hi\\\"";
        set "/key/options/environment" "" =
"restrict,from=\"192.0.2.0/24,!192.0.2.1\",command=\"echo \\\"hi\\\"\",environment=\"\" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIWNOkczKjUldIAEVcSkZ/1ZFtn5c/rUehuiQ0Iwa4tw new comment
"

test lns put "# keys\n"
  after set "/key[last()+1]" "AAAAC3NzaC1lZDI1NTE5AAAAIIWNOkczKjUldIAEVcSkZ/1ZFtn5c/rUehuiQ0Iwa4tw";
        set "/key[last()]/type" "ssh-ed25519";
        set "/key[last()]/comment" "added" =
"# keys
ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIWNOkczKjUldIAEVcSkZ/1ZFtn5c/rUehuiQ0Iwa4tw added
"

(* An unescaped quote cannot be written into a value *)
test lns put "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5\n"
  after insb "options" "/key/type";
        set "/key/options/command" "echo \"hi\"" = *
