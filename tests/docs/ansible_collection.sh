#!/usr/bin/env bash
# The Ansible collection sshdctl.core is well-formed: every module's documentation parses
# (ansible-doc shows its options), every module compiles, and ansible-galaxy builds the
# collection. Usage: tests/docs/ansible_collection.sh COLLECTIONS_DIR
set -uo pipefail
dir=$1
fail=0
bad() { echo "FAIL: $*" >&2; fail=1; }
coll=$dir/ansible_collections/sshdctl/core
command -v ansible-doc >/dev/null || { echo "FAIL: ansible-doc not found (apt-get install ansible-core)" >&2; exit 1; }
modules=$(cd "$coll/plugins/modules" && ls ./*.py | sed 's|^\./||; s|\.py$||')
[ -n "$modules" ] || bad "no modules in $coll/plugins/modules"
for m in $modules; do
  out=$(ANSIBLE_COLLECTIONS_PATH=$dir ansible-doc -t module "sshdctl.core.$m" 2>&1)
  grep -q "^OPTIONS" <<<"$out" || bad "ansible-doc sshdctl.core.$m: $(head -n 3 <<<"$out")"
  grep -q "^EXAMPLES" <<<"$out" || bad "sshdctl.core.$m has no examples"
  python3 -m py_compile "$coll/plugins/modules/$m.py" 2>&1 || bad "$m.py does not compile"
done
python3 -m py_compile "$coll"/plugins/module_utils/*.py || bad "module_utils do not compile"
find "$coll" -name __pycache__ -prune -exec rm -rf {} +
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
ansible-galaxy collection build --output-path "$out" "$coll" >"$out/build.log" 2>&1 || bad "ansible-galaxy cannot build it: $(tail -n 3 "$out/build.log")"
ls "$out"/sshdctl-core-*.tar.gz >/dev/null 2>&1 || bad "no collection archive built"
[ $fail = 0 ] && echo "sshdctl.core: $(wc -w <<<"$modules") modules documented and compiling; ansible-galaxy builds it"
exit $fail
