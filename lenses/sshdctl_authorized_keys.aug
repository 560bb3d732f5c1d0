(*
Module: Sshdctl_authorized_keys
  Parses OpenSSH authorized_keys files (see the AUTHORIZED_KEYS FILE
  FORMAT section of sshd(8)) into the tree that the sshdctl engine reads
  and writes.

About: Input requirements
  Every line, including the last one, must end with a newline ("\n").

About: Tree shape
  Blank lines::
    Lines holding only whitespace are kept as hidden (unlabelled) nodes,
    invisible to path expressions; a line holding only "#" is treated the
    same way.

  Comment lines::
    A "#comment" node whose value is the text after "#", with surrounding
    whitespace stripped.

  Key lines::
    A "key" node whose value is the base64 key blob, with these children,
    in this order:
    - "options" (only when the line has options): one child per option, in
      order, labelled with the option name as written. An option written
      as name="value" holds the value without the enclosing quotes (an
      escaped quote \" stays as written); a flag option has no value.
      Options may repeat.
    - "type": the key type, e.g. "ssh-ed25519" or
      "ssh-ed25519-cert-v01@openssh.com".
    - "comment" (only when present): the rest of the line, without
      surrounding whitespace.

  Indentation, separators and trailing whitespace are kept on write; new
  keys are written without indentation and with single spaces.

About: Editing
  - The children of "key" must be in the order options, type, comment.
  - A flag option has no value (NULL, e.g. augtool "clear"); an option
    whose value is the empty string is written as name="".
  - A quote inside an option value must be written escaped (\").

About: Key types
  Any type starting with "ssh-", "ecdsa-" or "sk-" is accepted: ssh-rsa,
  ssh-dss, ssh-ed25519, ssh-xmss@openssh.com, ecdsa-sha2-nistp256/384/521,
  sk-ssh-ed25519@openssh.com, sk-ecdsa-sha2-nistp256@openssh.com and all
  their -cert-v01@openssh.com variants.

About: Configuration files
  ~/.ssh/authorized_keys; there is no autoload.
*)

module Sshdctl_authorized_keys =

(************************************************************************
 * Group: Primitives
 ************************************************************************)

(* View: eol
   End of line, with optional trailing whitespace *)
let eol = del /[ \t\r]*\n/ "\n"

(* Variable: text_re
   Non-empty text without surrounding whitespace *)
let text_re = /[^ \t\r\n](.*[^ \t\r\n])?/

(* View: space *)
let space = del /[ \t]+/ " "

(************************************************************************
 * Group: Comments and blank lines
 ************************************************************************)

(* View: comment *)
let comment =
  [ del /[ \t]*#[ \t\r]*/ "# " . label "#comment" . store text_re . eol ]

(* View: empty
   A blank line or a line holding only "#": a hidden node *)
let empty = [ del /[ \t]*(#[ \t\r]*)?[ \t\r]*\n/ "\n" ]

(************************************************************************
 * Group: Keys
 ************************************************************************)

(* Variable: type_re
   A key type *)
let type_re = /(ssh|ecdsa|sk)-[A-Za-z0-9@._+-]+/

(* View: option
   A flag, or name="value"; a backslash before a quote escapes it. No
   option name looks like a key type, which keeps the split of a line
   unique *)
let option =
  let name_re = /[A-Za-z0-9][A-Za-z0-9_-]*/ - type_re in
  let value_re = /([^"\\\\\n]|\\\\+[^\\\\\n])*/ in
  [ key name_re
    . (del "=\"" "=\"" . store value_re . del "\"" "\"")? ]

(* View: options *)
let options =
  [ label "options" . option . (del "," "," . option)* ]

(* View: key_line *)
let key_line =
  [ del /[ \t]*/ "" . label "key"
    . (options . space)?
    . [ label "type" . store type_re ] . space
    . store /[A-Za-z0-9+\/=]+/
    . (space . [ label "comment" . store text_re ])?
    . eol ]

(************************************************************************
 * Group: Lens
 ************************************************************************)

(* View: lns *)
let lns = (empty | comment | key_line)*
