#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The Debian packages: built by CPack, their contents and control files, lintian,
# then installed, used and purged in a throwaway root (an overlay of / in a
# private mount namespace: the machine itself is not touched).
# Usage: package_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$(realpath "$1")
src=$(realpath "$2")

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# The throwaway root (run in a mount namespace of its own): install, check,
# use, purge.
inside() {
  local work=$1 bin=$2
  local ovl=$work/ovl root=$work/ovl/root
  mkdir -p "$ovl"
  mount -t tmpfs tmpfs "$ovl"
  mkdir -p "$ovl/upper" "$ovl/work" "$root"
  mount -t overlay overlay -o "lowerdir=/,upperdir=$ovl/upper,workdir=$ovl/work" "$root"
  mount -t proc proc "$root/proc"
  mount --rbind /dev "$root/dev"
  mount -t tmpfs tmpfs "$root/run"
  mount -t tmpfs tmpfs "$root/tmp"
  in_root() { chroot "$root" "$@"; }
  local pids=()
  trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT
  mkdir -p "$root/tmp/pkgs" "$root/tmp/www"
  cp "$work"/pkgs/*.deb "$root/tmp/pkgs/"
  # The overlay shows the machine's own files: a user or an install left
  # there would hide what the packages do.
  in_root test ! -e /usr/bin/supernode || fail "/usr/bin/supernode exists before the install"
  in_root test ! -e /etc/damselfly || fail "/etc/damselfly exists before the install"
  local had_user=0
  in_root getent passwd damselfly >/dev/null && had_user=1

  echo "--- dpkg -i"
  in_root sh -c 'dpkg -i /tmp/pkgs/damselfly-supernode_*.deb /tmp/pkgs/damselfly-dfget_*.deb'

  # The user, the state, the token.
  local pw
  pw=$(in_root getent passwd damselfly) || fail "no damselfly user after the install"
  [[ $pw == *:/var/lib/damselfly:/usr/sbin/nologin ]] || fail "damselfly user: $pw"
  in_root getent group damselfly >/dev/null || fail "no damselfly group"
  # (names resolved in the root, where the user is)
  local mode
  mode=$(in_root stat -c '%U %G %a' /var/lib/damselfly/supernode)
  [[ $mode == "damselfly damselfly 700" ]] || fail "/var/lib/damselfly/supernode: $mode"
  mode=$(in_root stat -c '%U %a' /var/lib/damselfly/dfget)
  [[ $mode == "root 700" ]] || fail "/var/lib/damselfly/dfget: $mode"
  mode=$(in_root stat -c '%U %a' /etc/damselfly/cluster.token)
  [[ $mode == "root 600" ]] || fail "cluster.token: $mode"
  grep -Eqx '[0-9a-f]{64}' "$root/etc/damselfly/cluster.token" || fail "cluster.token is not 64 hex digits"
  local conffiles
  conffiles=$(in_root dpkg-query -W -f='${Conffiles}\n' damselfly-supernode damselfly-dfget)
  grep -q "/etc/damselfly/supernode.yaml" <<<"$conffiles" || fail "supernode.yaml is not a conffile"
  grep -q "/etc/damselfly/dfget.yaml" <<<"$conffiles" || fail "dfget.yaml is not a conffile"
  # Reinstalling keeps the token (the nodes hold copies of it).
  local token
  token=$(cat "$root/etc/damselfly/cluster.token")
  in_root sh -c 'dpkg -i /tmp/pkgs/damselfly-supernode_*.deb' >/dev/null
  [[ $(cat "$root/etc/damselfly/cluster.token") == "$token" ]] || fail "a reinstall replaced the token"

  echo "--- systemd-analyze verify (installed units)"
  in_root systemd-analyze verify /lib/systemd/system/damselfly-supernode.service \
    /lib/systemd/system/damselfly-token.service /lib/systemd/system/damselfly-dfget.service

  echo "--- the installed programs serve a download"
  cp "$work/file" "$root/tmp/www/pkg.bin"
  "$bin/test_origin" --root "$root/tmp/www" --port-file "$work/origin.port" >"$work/origin.log" 2>&1 &
  pids+=($!)
  # The supernode as its unit runs it: its command line (on a free port), user
  # damselfly, the token as a credential only it can read.
  mkdir -p "$root/run/credentials"
  install -o "$(in_root id -u damselfly)" -m 0600 "$root/etc/damselfly/cluster.token" \
    "$root/run/credentials/cluster.token"
  local exec_start
  exec_start=$(sed -n 's/^ExecStart=//p' "$root/lib/systemd/system/damselfly-supernode.service")
  exec_start=${exec_start//\$\{CREDENTIALS_DIRECTORY\}//run/credentials}
  # shellcheck disable=SC2086
  # chroot itself in the background, not in_root: a function would run in a
  # subshell, and killing that (its $!) would leave the server running.
  chroot "$root" setpriv --reuid=damselfly --regid=damselfly --init-groups $exec_start \
    --listen 127.0.0.1:0 --port-file /var/lib/damselfly/supernode/port \
    >"$work/supernode.log" 2>&1 &
  pids+=($!)
  local i sn_port="" origin_port=""
  for i in $(seq 100); do
    sn_port=$(cat "$root/var/lib/damselfly/supernode/port" 2>/dev/null || true)
    origin_port=$(cat "$work/origin.port" 2>/dev/null || true)
    [[ -n $sn_port && -n $origin_port ]] && break
    sleep 0.1
  done
  [[ -n $sn_port ]] || { cat "$work/supernode.log"; fail "the installed supernode did not start"; }
  [[ -n $origin_port ]] || fail "the origin did not start"
  # A node joins: the token from the supernode host, the supernode's address.
  in_root damselfly-token --print | in_root damselfly-join "127.0.0.1:$sn_port"
  grep -qx "DFGET_DAEMON_OPTS=\"--supernode 127.0.0.1:$sn_port\"" "$root/etc/default/damselfly-dfget" ||
    fail "damselfly-join wrote: $(cat "$root/etc/default/damselfly-dfget")"
  # Attack: a supernode "address" or a token that would smuggle a second flag
  # or shell text into the daemon's environment file is refused, and the
  # files stay as they were.
  local before
  before=$(cat "$root/etc/default/damselfly-dfget" "$root/etc/damselfly/cluster.token")
  local bad rc
  for bad in '127.0.0.1:1" --insecure-no-auth "x' '127.0.0.1:1 --listen 0.0.0.0:1' '$(touch /pwned)'; do
    rc=0
    in_root damselfly-join "$bad" <"$root/etc/damselfly/cluster.token" >/dev/null 2>&1 || rc=$?
    [[ $rc == 2 ]] || fail "damselfly-join accepted the supernode '$bad' (exit $rc)"
  done
  rc=0
  printf '%s\n' 'aaaaaaaaaaaaaaaa" --insecure-no-auth "' | in_root damselfly-join 127.0.0.1:1 \
    >/dev/null 2>&1 || rc=$?
  [[ $rc == 2 ]] || fail "damselfly-join accepted a token with quotes (exit $rc)"
  [[ $(cat "$root/etc/default/damselfly-dfget" "$root/etc/damselfly/cluster.token") == "$before" ]] ||
    fail "a refused damselfly-join changed the node's files"
  in_root test ! -e /pwned || fail "damselfly-join ran text from its arguments"
  # The daemon as its unit starts it: the unit's own command line (with a free
  # port), Group=damselfly, /run/damselfly 0750.
  in_root install -d -g damselfly -m 0750 /run/damselfly
  local port
  for port in $(shuf -i 30000-60000 -n 20); do
    (exec 3<>"/dev/tcp/127.0.0.2/$port") 2>/dev/null || break
  done
  # shellcheck disable=SC1091
  DFGET_DAEMON_OPTS=$(. "$root/etc/default/damselfly-dfget" && echo "$DFGET_DAEMON_OPTS")
  # shellcheck disable=SC2086
  exec_start=$(sed -n 's/^ExecStart=//p' "$root/lib/systemd/system/damselfly-dfget.service")
  exec_start=${exec_start//\$DFGET_DAEMON_OPTS/$DFGET_DAEMON_OPTS --listen 127.0.0.2:$port}
  chroot "$root" setpriv --regid=damselfly --clear-groups $exec_start >"$work/daemon.log" 2>&1 &
  pids+=($!)
  for i in $(seq 100); do
    [[ -S $root/run/damselfly/dfget.sock ]] && break
    sleep 0.1
  done
  [[ -S $root/run/damselfly/dfget.sock ]] || { cat "$work/daemon.log"; fail "the installed daemon did not start"; }
  # A user of group damselfly downloads through it.
  in_root useradd --create-home --groups damselfly alice
  in_root runuser -u alice -- /usr/bin/dfget "http://127.0.0.1:$origin_port/pkg.bin" \
    -O /home/alice/pkg.bin --daemon-socket /run/damselfly/dfget.sock ||
    { cat "$work/daemon.log" "$work/supernode.log"; fail "the download through the installed daemon failed"; }
  [[ $(sha256sum <"$root/home/alice/pkg.bin") == $(sha256sum <"$work/file") ]] ||
    fail "alice's file differs from the origin's"
  [[ $(in_root stat -c %U /home/alice/pkg.bin) == alice ]] || fail "alice's file is not hers"
  # Read whole, then searched: `curl | grep -q` under pipefail fails when grep
  # stops reading at its match and curl gets SIGPIPE (seen in parallel runs).
  local metrics
  metrics=$(curl -sf "http://127.0.0.1:$sn_port/metrics") || fail "the supernode's /metrics did not answer"
  grep -q '^damselfly_supernode_registrations_total [1-9]' <<<"$metrics" ||
    fail "the supernode saw no registration"
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  pids=()
  # Nothing started here outlives the test (the servers once did, every run).
  local servers='--port-file /var/lib/damselfly/supernode/port|--socket /run/damselfly/dfget.sock'
  for i in $(seq 50); do
    pgrep -f -- "$servers" >/dev/null || break
    sleep 0.1
  done
  ! pgrep -f -- "$servers" >/dev/null || fail "the installed supernode or daemon outlived the test"

  echo "--- dpkg --purge"
  in_root dpkg --purge damselfly-dfget damselfly-supernode
  for f in /usr/bin/supernode /usr/bin/dfget /usr/sbin/damselfly-join /etc/damselfly \
    /var/lib/damselfly /etc/default/damselfly-dfget /lib/systemd/system/damselfly-dfget.service; do
    in_root test ! -e "$f" || fail "$f is left after the purge"
  done
  # Debian keeps system users on purge (their files may live on elsewhere).
  ((had_user)) || in_root getent passwd damselfly >/dev/null || fail "the purge removed the user"
  echo "installed, used and purged in a throwaway root"
}

if [[ ${3:-} == --inside ]]; then
  inside "$4" "$5"
  exit 0
fi

work=$(mktemp -d /tmp/damselfly-pkg.XXXXXX)
trap 'rm -rf "$work"' EXIT

echo "--- cpack"
cpack --config "$build/CPackConfig.cmake" -G DEB -B "$work/pkgs" >"$work/cpack.log" 2>&1 ||
  { cat "$work/cpack.log"; fail "cpack failed"; }
sn=$(ls "$work"/pkgs/damselfly-supernode_*_amd64.deb)
df=$(ls "$work"/pkgs/damselfly-dfget_*_amd64.deb)

# What each package holds: exactly these files (directories aside).
check_contents() {
  local deb=$1
  shift
  local got want
  got=$(dpkg-deb -c "$deb" | awk '$1 !~ /^d/ {print $6}' | sort)
  want=$(printf '%s\n' "$@" | sort)
  [[ $got == "$want" ]] || fail "$(basename "$deb") holds:
$got
expected:
$want"
}
doc=./usr/share/doc
check_contents "$sn" ./usr/bin/supernode ./usr/sbin/damselfly-token \
  ./lib/systemd/system/damselfly-supernode.service ./lib/systemd/system/damselfly-token.service \
  ./etc/damselfly/supernode.yaml ./usr/share/man/man1/supernode.1.gz \
  ./usr/share/man/man8/damselfly-token.8.gz \
  $doc/damselfly-supernode/{copyright,changelog.gz,api.md,security.md,release-pipeline.md} \
  $doc/damselfly-supernode/examples/grafana/{README.md,damselfly.json} \
  $doc/damselfly-supernode/examples/prometheus/{alerts.yml,alerts_test.yml,prometheus.yml}
check_contents "$df" ./usr/bin/dfget ./usr/sbin/damselfly-join \
  ./lib/systemd/system/damselfly-dfget.service ./etc/damselfly/dfget.yaml \
  ./usr/share/man/man1/dfget.1.gz ./usr/share/man/man8/damselfly-join.8.gz \
  $doc/damselfly-dfget/{copyright,changelog.gz,cli.md,security.md}

for deb in "$sn" "$df"; do
  name=$(dpkg-deb -f "$deb" Package)
  ctl=$work/ctl-$name
  dpkg-deb -e "$deb" "$ctl"
  for script in postinst prerm postrm; do
    [[ -x $ctl/$script ]] || fail "$name: no executable $script"
    sh -n "$ctl/$script" || fail "$name: $script does not parse"
  done
  # Every file under /etc is a conffile, and every conffile is in /etc.
  etc=$(dpkg-deb -c "$deb" | awk '$1 !~ /^d/ && $6 ~ /^\.\/etc\// {print substr($6, 2)}' | sort)
  [[ $(sort "$ctl/conffiles") == "$etc" ]] || fail "$name: conffiles $(cat "$ctl/conffiles") vs /etc: $etc"
  grep -qw adduser <<<"$(dpkg-deb -f "$deb" Depends)" || fail "$name does not depend on adduser"
  # The units start the programs the packages install.
  dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$work" --wildcards './lib/systemd/system/*'
  # The man page is the program's --help.
  dpkg-deb --fsys-tarfile "$deb" | tar -xO --wildcards './usr/share/man/man1/*' | zcat |
    grep -q '^\.SH OPTIONS' || fail "$name: the man page has no OPTIONS"
done
grep -qx 'ExecStart=/usr/bin/supernode .*' "$work/lib/systemd/system/damselfly-supernode.service" ||
  fail "damselfly-supernode.service does not start /usr/bin/supernode"
grep -qx 'ExecStart=/usr/bin/dfget .* daemon .*' "$work/lib/systemd/system/damselfly-dfget.service" ||
  fail "damselfly-dfget.service does not start /usr/bin/dfget"
grep -qx 'User=damselfly' "$work/lib/systemd/system/damselfly-supernode.service" ||
  fail "the supernode does not run as damselfly"
! grep -rn /usr/local "$work/lib/systemd/system" || fail "a unit names /usr/local"
echo "contents, control files and units as expected"

echo "--- lintian"
lintian --tag-display-limit 0 "$sn" "$df" >"$work/lintian.log" 2>&1 ||
  { cat "$work/lintian.log"; fail "lintian failed"; }
cat "$work/lintian.log"
! grep -E '^(E|W): ' "$work/lintian.log" || fail "lintian reports errors or warnings"

echo "--- install into a throwaway root"
head -c $((3 << 20)) /dev/urandom >"$work/file"
if ! unshare --mount true 2>/dev/null; then
  echo "SKIPPED: no private mount namespace here (unshare --mount); installation not exercised"
  exit 77
fi
unshare --mount --propagation private bash "$0" "$build" "$src" --inside "$work" "$build/bin"
