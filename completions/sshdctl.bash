# bash completion for sshdctl(8): verbs, sub-verbs, options, sshd keywords and their fixed
# values (from `sshdctl --list-keywords`, asked once per shell), Match criteria, users, files,
# SSH hosts, units and the hosts of an inventory given with -i.
# Installed to /usr/share/bash-completion/completions/sshdctl.

_sshdctl_keywords() {
  if [[ -z ${_sshdctl_catalog:-} ]]; then
    _sshdctl_catalog=$("${1:-sshdctl}" --list-keywords 2>/dev/null) || _sshdctl_catalog=
  fi
}

_sshdctl() {
  local cur prev words cword
  _init_completion || return

  local verbs="show set unset root-login key tempkey passwd credential confirm history show-change plan apply revert service doctor audit"
  local global="--help --version --root --host -F --identity --known-hosts --accept-new --jump --connect-timeout
    --command-timeout --confirm-timeout --inventory --limit --forks --canary --batch --max-failures --report --ask-pass
    --pass-stdin --pass-file --pass-env --no-probe --dry-run --json --verbose --no-reload --unit --lens-dir
    --credential --store-pass-env --store-pass-file --store --reason --lock-timeout --for --confirm-within"
  local criteria="User Group Host LocalAddress LocalPort RDomain Address all"

  # The verb, its sub-verb and the words after them; the inventory, for --limit.
  local i verb= sub= inventory= args=()
  for ((i = 1; i < cword; i++)); do
    local w=${words[i]}
    case ${words[i - 1]} in
      -i | --inventory) inventory=$w; continue ;;
      --root | --host | -F | --identity | --known-hosts | -J | --jump | --connect-timeout | --command-timeout | \
        --confirm-timeout | --limit | --forks | --canary | --batch | --max-failures | --report | --pass-file | \
        --pass-env | --unit | --lens-dir | --credential | --store-pass-env | --store-pass-file | --store | --reason | \
        --lock-timeout | --for | --confirm-within | --match | --user | --addr | --laddr | --lport | --rdomain | \
        --pubkey | --options | --fingerprint | --comment | --ttl | --out | --file | --env | --password-file | \
        --password-env | --key | --policy | --from | --rollout)
        continue ;;
    esac
    [[ $w == -* ]] && continue
    if [[ -z $verb ]]; then
      [[ " $verbs " == *" $w "* ]] && verb=$w
    elif [[ -z $sub && $verb =~ ^(root-login|key|credential)$ ]]; then
      sub=$w
    else
      args+=("$w")
    fi
  done

  # An option's argument.
  case $prev in
    --root | --lens-dir) _filedir -d; return ;;
    -F | --identity | --known-hosts | --pass-file | --report | --store | --store-pass-file | --out | --file | \
      --password-file | --key | --policy)
      _filedir; return ;;
    -i | --inventory) _filedir; return ;;
    --pubkey) _filedir pub; return ;;
    --host | -J | --jump) _known_hosts_real -a -- "$cur"; return ;;
    --unit) mapfile -t COMPREPLY < <(compgen -W "ssh.service sshd.service ssh.socket sshd.socket" -- "$cur"); return ;;
    --user) mapfile -t COMPREPLY < <(compgen -u -- "$cur"); return ;;
    --limit)
      if [[ -n $inventory && -r $inventory ]]; then
        local hosts
        hosts=$(sed -n -e 's/[#;].*//' -e '/^[[:space:]]*$/d' -e 's/^\[\([^]:]*\).*\]$/\1/p' \
          -e '/^\[/d' -e 's/^[[:space:]]*\([^[:space:]=:]*\).*/\1/p' "$inventory" 2>/dev/null | sort -u)
        mapfile -t COMPREPLY < <(compgen -W "$hosts all" -- "$cur")
      fi
      return ;;
    --match)
      mapfile -t COMPREPLY < <(compgen -W "$criteria" -- "$cur"); return ;;
    --connect-timeout | --command-timeout | --confirm-timeout | --forks | --canary | --batch | --max-failures | \
      --pass-env | --credential | --store-pass-env | --reason | --lock-timeout | --for | --confirm-within | --addr | \
      --laddr | --lport | --rdomain | --options | --fingerprint | --comment | --ttl | --env | --password-env | --from | \
      --rollout)
      return ;;
  esac

  if [[ -z $verb ]]; then
    if [[ $cur == -* ]]; then
      mapfile -t COMPREPLY < <(compgen -W "$global" -- "$cur")
    else
      mapfile -t COMPREPLY < <(compgen -W "$verbs" -- "$cur")
    fi
    return
  fi

  local opts=
  case $verb in
    show) opts="--user --host --addr --laddr --lport --rdomain --compare" ;;
    set | unset) opts="--match" ;;
    root-login) [[ $sub == enable ]] && opts="--key-only --password-stdin --password-file --password-env --ask-password" ;;
    key)
      case $sub in
        add) opts="--pubkey --options --fix-perms" ;;
        remove) opts="--pubkey --fingerprint --comment" ;;
      esac ;;
    tempkey) opts="--ttl --out" ;;
    passwd) opts="--stdin --file --env --ask --unlock" ;;
    credential) [[ $sub == add ]] && opts="--user --password-stdin --password-file --password-env --key" ;;
    revert) opts="--last --rollout --force" ;;
    doctor) opts="--user --from" ;;
    audit) opts="--policy" ;;
  esac
  if [[ $cur == -* ]]; then
    mapfile -t COMPREPLY < <(compgen -W "--help $opts" -- "$cur")
    return
  fi

  case $verb in
    show)
      _sshdctl_keywords "${words[0]}"
      mapfile -t COMPREPLY < <(compgen -W "$(cut -d' ' -f1 <<<"$_sshdctl_catalog")" -- "$cur") ;;
    set | unset)
      _sshdctl_keywords "${words[0]}"
      if ((${#args[@]} == 0)); then
        mapfile -t COMPREPLY < <(compgen -W "$(cut -d' ' -f1 <<<"$_sshdctl_catalog")" -- "$cur")
      elif [[ $verb == set ]]; then
        local values
        values=$(awk -v k="${args[0]}" 'tolower($1) == tolower(k) { $1 = ""; print }' <<<"$_sshdctl_catalog")
        mapfile -t COMPREPLY < <(compgen -W "$values" -- "$cur")
      fi ;;
    root-login) [[ -z $sub ]] && mapfile -t COMPREPLY < <(compgen -W "enable disable" -- "$cur") ;;
    key)
      if [[ -z $sub ]]; then
        mapfile -t COMPREPLY < <(compgen -W "add remove list prune" -- "$cur")
      elif ((${#args[@]} == 0)); then
        mapfile -t COMPREPLY < <(compgen -u -- "$cur")
      fi ;;
    credential) [[ -z $sub ]] && mapfile -t COMPREPLY < <(compgen -W "add list remove" -- "$cur") ;;
    tempkey | passwd) ((${#args[@]} == 0)) && mapfile -t COMPREPLY < <(compgen -u -- "$cur") ;;
    service) ((${#args[@]} == 0)) && mapfile -t COMPREPLY < <(compgen -W "status reload restart" -- "$cur") ;;
    plan | apply) ((${#args[@]} == 0)) && _filedir '@(yml|yaml)' ;;
  esac
}
complete -F _sshdctl sshdctl
