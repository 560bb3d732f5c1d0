(*
Module: Sshdctl_sshd
  Parses OpenSSH server configuration files (sshd_config(5)), as accepted
  by OpenSSH 9.x, into the tree that the sshdctl engine reads and writes.

About: Input requirements
  Every line, including the last one, must end with a newline ("\n").
  The engine appends a newline before parsing a file that lacks one and
  removes it again after writing.

About: Tree shape
  Blank lines::
    Lines holding only whitespace are kept as hidden (unlabelled) nodes:
    they are invisible to path expressions and to "print", and they are
    written back unchanged.

  Comment lines::
    A full-line comment becomes a "#comment" node whose value is the text
    after "#", with surrounding whitespace stripped. A line holding only
    "#" (optionally surrounded by whitespace) is treated exactly like a
    blank line: a hidden node, never a "#comment" with an empty value.

  Keyword lines::
    A node labelled with the keyword exactly as written (any case).
    Indentation, the separator (" ", "\t", "=", " = ", ...) and trailing
    whitespace are kept on write. New nodes are written with a single space
    as separator, no indentation at the top level and two spaces inside
    "Match" blocks.

  Trailing comments::
    A word starting with an unquoted "#" ends the line; the text after "#"
    (stripped) becomes a "#comment" child of the keyword node. A trailing
    "#" with no text is kept but produces no node.

  Scalar keywords::
    The value is the rest of the line as written (quotes, escapes and
    inner whitespace kept), without the trailing comment and whitespace.

  Space-separated lists::
    AcceptEnv, AllowGroups, AllowUsers, DenyGroups, DenyUsers,
    AuthorizedKeysFile, AuthenticationMethods, ChannelTimeout, Include,
    LogVerbosity, PermitListen, PermitOpen, SetEnv, PerSourcePenalties and
    IPQoS (any case): the keyword node has no value and one child per word,
    labelled "1", "2", ... (numbering restarts for every line). A quoted
    word keeps its quotes.

  Comma-separated lists::
    Ciphers, MACs, KexAlgorithms, HostKeyAlgorithms,
    HostbasedAcceptedAlgorithms, HostbasedAcceptedKeyTypes,
    PubkeyAcceptedAlgorithms, PubkeyAcceptedKeyTypes,
    CASignatureAlgorithms, GSSAPIKexAlgorithms and
    PerSourcePenaltyExemptList (any case): no value, one child "1", "2",
    ... per item. A leading "+", "-" or "^" stays in the first item. If
    the whole list is enclosed in quotes, the quotes are kept on write but
    are not part of any item.

  Subsystem::
    One child labelled with the subsystem name whose value is the command
    and its arguments as written.

  Match blocks::
    A "Match" line starts a block that runs up to the next "Match" line or
    the end of the file. The "Match" node (label as written) has exactly
    two children, "Condition" and "Settings". "Condition" has one child per
    criterion, labelled with the criterion word as written and holding the
    pattern list as written (written "User root" or "User=root"); "all"
    has no value and must stand alone. A
    trailing comment on the "Match" line becomes a "#comment" child of
    "Condition", after the criteria. "Settings" holds the lines of the
    block, in the same shapes as the top level.

About: Adding entries
  - Lines after the first "Match" line belong to a Match block, so a new
    global keyword must be inserted before the first "Match" node, e.g.
      > ins PermitRootLogin before /files/etc/ssh/sshd_config/Match[1]
    Writing a tree with a keyword after a "Match" node fails.
  - A trailing "#comment" child must stay the last child of its node: new
    list items are inserted before it.
  - A value must be valid sshd_config syntax (balanced quotes, no word
    starting with "#"); otherwise writing fails instead of producing a
    file that sshd would read differently.

About: Not supported
  - a word ending in a backslash that is not followed by another
    character of the same word (e.g. "Banner C:\");
  - carriage returns or form feeds anywhere but at the end of a line;
  - quotes inside a comma-separated list other than around the whole
    list;
  - a keyword without any argument;
  - a subsystem name with characters other than letters, digits and
    "_.@+-";
  - a Match criterion without a pattern other than "all" (OpenSSH 9.x has
    none).

About: Configuration files
  /etc/ssh/sshd_config; the transform below is only used when the lens is
  loaded explicitly, there is no autoload.
*)

module Sshdctl_sshd =

(************************************************************************
 * Group: Primitives
 ************************************************************************)

(* Variable: eol_re
   End of line, with optional trailing whitespace *)
let eol_re = /[ \t\r\f]*\n/

(* View: eol *)
let eol = del eol_re "\n"

(* Variable: text_re
   Non-empty text without surrounding whitespace *)
let text_re = /[^ \t\r\f\n](.*[^ \t\r\f\n])?/

(* View: indent
   Leading whitespace; [dflt] is used for new nodes *)
let indent (dflt:string) = del /[ \t]*/ dflt

(* View: sep
   Separator between a keyword and its value: whitespace, or a single
   "=" with optional whitespace around it *)
let sep = del /[ \t]+|[ \t]*=[ \t]*/ " "

(* View: ws
   Separator between two words *)
let ws = del /[ \t]+/ " "

(************************************************************************
 * Group: Words
 *   A word follows the splitting rules of OpenSSH: unquoted whitespace
 *   ends it, "..." and '...' may hold anything but a newline, a backslash
 *   escapes the next character, and an unquoted "#" at the start of a word
 *   starts a comment.
 ************************************************************************)

(* Variable: plain_first
   Unquoted character allowed at the start of a word *)
let plain_first = /[^ \t\r\f\n"'\\\\#]/

(* Variable: plain
   Unquoted character allowed inside a word *)
let plain = /[^ \t\r\f\n"'\\\\]/

(* Variable: escaped
   A backslash followed by a character other than whitespace *)
let escaped = /\\\\[^ \t\r\f\n]/

(* Variable: escaped_space
   A backslash-escaped space; never the last thing in a word *)
let escaped_space = /\\\\ /

(* Variable: quoted *)
let quoted = /"([^"\\\\\n]|\\\\.)*"/ | /'([^'\\\\\n]|\\\\.)*'/

(* Variable: atom *)
let atom = plain | escaped | quoted

(* Variable: word_re
   One word: a single atom that cannot start a comment, or several atoms
   of which the last one is not an escaped space *)
let word_re =
     (plain_first | escaped | quoted)
   | (plain_first | escaped | quoted | escaped_space)
     . (atom | escaped_space)* . atom

(* Variable: first_word_re
   The first word after a keyword; it cannot start with "=" (that would
   be part of the separator) *)
let first_word_re =
  let first = /[^ \t\r\f\n"'\\\\#=]/ | escaped | quoted in
     first
   | (first | escaped_space) . (atom | escaped_space)* . atom

(* Variable: words_re
   The raw value of a scalar keyword: words separated by whitespace *)
let words_re = first_word_re . (/[ \t]+/ . word_re)*

(************************************************************************
 * Group: Comments and blank lines
 ************************************************************************)

(* View: comment
   A full-line comment; [dflt] is the indentation of new comments *)
let comment (dflt:string) =
  [ indent dflt . label "#comment" . del /#[ \t\r\f]*/ "# "
    . store text_re . eol ]

(* View: empty
   A blank line or a line holding only "#": a hidden node *)
let empty = [ del /[ \t]*(#[ \t\r\f]*)?[ \t\r\f]*\n/ "\n" ]

(* View: line_end
   Optional trailing comment, then the end of the line *)
let line_end =
    [ label "#comment" . del /[ \t]+#[ \t]*/ " # " . store text_re ] . eol
  | del /([ \t]+#)?[ \t\r\f]*\n/ "\n"

(************************************************************************
 * Group: Keywords
 ************************************************************************)

(* Keywords are matched case-insensitively with explicit [Aa] classes rather than the /.../i
   flag: Augeas expands /i into a much costlier automaton (a third of the load time). *)

(* Variable: space_list_kw *)
let space_list_kw = /[Aa][Cc][Cc][Ee][Pp][Tt][Ee][Nn][Vv]|[Aa][Ll][Ll][Oo][Ww][Gg][Rr][Oo][Uu][Pp][Ss]|[Aa][Ll][Ll][Oo][Ww][Uu][Ss][Ee][Rr][Ss]|[Dd][Ee][Nn][Yy][Gg][Rr][Oo][Uu][Pp][Ss]|[Dd][Ee][Nn][Yy][Uu][Ss][Ee][Rr][Ss]|[Aa][Uu][Tt][Hh][Oo][Rr][Ii][Zz][Ee][Dd][Kk][Ee][Yy][Ss][Ff][Ii][Ll][Ee]|[Aa][Uu][Tt][Hh][Ee][Nn][Tt][Ii][Cc][Aa][Tt][Ii][Oo][Nn][Mm][Ee][Tt][Hh][Oo][Dd][Ss]|[Cc][Hh][Aa][Nn][Nn][Ee][Ll][Tt][Ii][Mm][Ee][Oo][Uu][Tt]|[Ii][Nn][Cc][Ll][Uu][Dd][Ee]|[Ll][Oo][Gg][Vv][Ee][Rr][Bb][Oo][Ss][Ii][Tt][Yy]|[Pp][Ee][Rr][Mm][Ii][Tt][Ll][Ii][Ss][Tt][Ee][Nn]|[Pp][Ee][Rr][Mm][Ii][Tt][Oo][Pp][Ee][Nn]|[Ss][Ee][Tt][Ee][Nn][Vv]|[Pp][Ee][Rr][Ss][Oo][Uu][Rr][Cc][Ee][Pp][Ee][Nn][Aa][Ll][Tt][Ii][Ee][Ss]|[Ii][Pp][Qq][Oo][Ss]/

(* Variable: comma_list_kw *)
let comma_list_kw = /[Cc][Ii][Pp][Hh][Ee][Rr][Ss]|[Mm][Aa][Cc][Ss]|[Kk][Ee][Xx][Aa][Ll][Gg][Oo][Rr][Ii][Tt][Hh][Mm][Ss]|[Hh][Oo][Ss][Tt][Kk][Ee][Yy][Aa][Ll][Gg][Oo][Rr][Ii][Tt][Hh][Mm][Ss]|[Hh][Oo][Ss][Tt][Bb][Aa][Ss][Ee][Dd][Aa][Cc][Cc][Ee][Pp][Tt][Ee][Dd][Aa][Ll][Gg][Oo][Rr][Ii][Tt][Hh][Mm][Ss]|[Hh][Oo][Ss][Tt][Bb][Aa][Ss][Ee][Dd][Aa][Cc][Cc][Ee][Pp][Tt][Ee][Dd][Kk][Ee][Yy][Tt][Yy][Pp][Ee][Ss]|[Pp][Uu][Bb][Kk][Ee][Yy][Aa][Cc][Cc][Ee][Pp][Tt][Ee][Dd][Aa][Ll][Gg][Oo][Rr][Ii][Tt][Hh][Mm][Ss]|[Pp][Uu][Bb][Kk][Ee][Yy][Aa][Cc][Cc][Ee][Pp][Tt][Ee][Dd][Kk][Ee][Yy][Tt][Yy][Pp][Ee][Ss]|[Cc][Aa][Ss][Ii][Gg][Nn][Aa][Tt][Uu][Rr][Ee][Aa][Ll][Gg][Oo][Rr][Ii][Tt][Hh][Mm][Ss]|[Gg][Ss][Ss][Aa][Pp][Ii][Kk][Ee][Xx][Aa][Ll][Gg][Oo][Rr][Ii][Tt][Hh][Mm][Ss]|[Pp][Ee][Rr][Ss][Oo][Uu][Rr][Cc][Ee][Pp][Ee][Nn][Aa][Ll][Tt][Yy][Ee][Xx][Ee][Mm][Pp][Tt][Ll][Ii][Ss][Tt]/

(* Variable: subsystem_kw *)
let subsystem_kw = /[Ss][Uu][Bb][Ss][Yy][Ss][Tt][Ee][Mm]/

(* Variable: match_kw *)
let match_kw = /[Mm][Aa][Tt][Cc][Hh]/

(* Variable: scalar_kw
   Any other keyword. The list keywords and Subsystem are NOT subtracted from it: the
   union in `entry` tries them first, and Augeas's get and put both take the first
   alternative of a union that fits. Subtracting them made Augeas derive a regular
   expression so large that compiling it took ~100 ms at every start; ordering costs
   nothing. The price: type checking reports the (intended) overlap, so the lens tests
   run without it, and a malformed list such as "Ciphers a, b" parses as a scalar (sshd -t
   rejects it before sshdctl writes anything). *)
let scalar_kw = /[A-Za-z][A-Za-z0-9]*/ - match_kw

(* View: scalar *)
let scalar (dflt:string) =
  [ indent dflt . key scalar_kw . sep . store words_re . line_end ]

(* View: space_list *)
let space_list (dflt:string) =
  let item (re:regexp) = [ seq "item" . store re ] in
  [ indent dflt . key space_list_kw . counter "item"
    . sep . item first_word_re . (ws . item word_re)* . line_end ]

(* View: comma_list *)
let comma_list (dflt:string) =
  let item_re = /[^, \t\r\f\n"'\\\\#=][^, \t\r\f\n"'\\\\]*/ in
  let item = [ seq "item" . store item_re ] in
  let quote = del /["']?/ "" in
  [ indent dflt . key comma_list_kw . counter "item"
    . sep . quote . item . (del "," "," . item)* . quote . line_end ]

(* View: subsystem *)
let subsystem (dflt:string) =
  let name_re = /[A-Za-z0-9_.@+-]+/ in
  [ indent dflt . key subsystem_kw . sep
    . [ key name_re . ws . store words_re ] . line_end ]

(* View: entry
   Any line but a Match line *)
let entry (dflt:string) =
    space_list dflt | comma_list dflt | subsystem dflt | scalar dflt
  | comment dflt | empty

(************************************************************************
 * Group: Match blocks
 ************************************************************************)

(* View: criterion
   A criterion word and its pattern list *)
let criterion =
  let name_re = /[A-Za-z][A-Za-z0-9_-]*/ - /[Aa][Ll][Ll]/ in
  [ key name_re . del /[ \t]+|=/ " " . store first_word_re ]

(* View: condition *)
let condition =
  let all = [ key /[Aa][Ll][Ll]/ ] in
  [ label "Condition" . sep
    . (all | criterion . (ws . criterion)*) . line_end ]

(* View: match *)
let match =
  [ indent "" . key match_kw . condition
    . [ label "Settings" . (entry "  ")* ] ]

(************************************************************************
 * Group: Lens
 ************************************************************************)

(* View: lns *)
let lns = (entry "")* . match*

(* Variable: xfm *)
let xfm = transform lns (incl "/etc/ssh/sshd_config")
