#!/usr/bin/env bash
# Starts or stops a local SSH server to try Fusion against.
#   docker/run.sh start   # prints host, port, user, key and known_hosts to use
#   docker/run.sh stop
# With a Docker engine it runs docker/Dockerfile, published on 127.0.0.1 only. Without one
# (`docker info` fails) it starts sshd as root in a network namespace instead (10.231.250.2).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
state="${FUSION_SSHD_STATE:-$(dirname "$here")/.cache/fusion-sshd}"
image="fusion-sshd:dev"
container="fusion-sshd-dev"
user="fusion"
ns="fusion-dev"
veth_out="fzdev0a"
veth_in="fzdev0b"
addr_out="10.231.250.1"
addr_in="10.231.250.2"

die() { echo "run.sh: $*" >&2; exit 1; }

have_docker() { command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; }

make_key() {
  mkdir -p "$state"
  chmod 700 "$state"
  [ -f "$state/id_ed25519" ] || ssh-keygen -q -t ed25519 -N "" -C "fusion-dev" -f "$state/id_ed25519"
}

print_info() { # host port user
  local host="$1" port="$2" login="$3"
  local target="$login@$host"
  [ "$port" = 22 ] || target="$target:$port"
  cat <<INFO
SSH server ready ($4).
  host:        $host
  port:        $port
  user:        $login
  key:         $state/id_ed25519
  known_hosts: $state/known_hosts

  ssh -i $state/id_ed25519 -o UserKnownHostsFile=$state/known_hosts -p $port $login@$host true

  Target for Fusion:
  { host: "$host", port: $port, username: "$login",
    auth: { key: "$state/id_ed25519" },
    hostKeys: { policy: "strict", knownHosts: "$state/known_hosts" } }
  or the string "$target" with those auth and hostKeys settings.
Stop it with: docker/run.sh stop
INFO
}

start_docker() {
  make_key
  docker build -q -t "$image" "$here" >/dev/null
  docker rm -f "$container" >/dev/null 2>&1 || true
  local port="${FUSION_SSHD_PORT:-2222}"
  docker run -d --name "$container" -p "127.0.0.1:$port:22" "$image" >/dev/null
  docker exec -i "$container" sh -c \
    "cat > /home/$user/.ssh/authorized_keys && chown $user:$user /home/$user/.ssh/authorized_keys && chmod 600 /home/$user/.ssh/authorized_keys" \
    < "$state/id_ed25519.pub"
  : > "$state/known_hosts"
  for t in ed25519 ecdsa rsa; do
    key="$(docker exec "$container" cat "/etc/ssh/ssh_host_${t}_key.pub" | awk '{print $1" "$2}')"
    echo "[127.0.0.1]:$port $key" >> "$state/known_hosts"
  done
  echo docker > "$state/mode"
  print_info 127.0.0.1 "$port" "$user" "Docker container $container"
}

stop_docker() {
  docker rm -f "$container" >/dev/null 2>&1 || true
}

start_netns() {
  [ "$(id -u)" = 0 ] || die "no Docker engine answers, and the namespace fallback needs root"
  [ -x /usr/sbin/sshd ] || die "no Docker engine answers, and /usr/sbin/sshd is missing (apt-get install openssh-server)"
  if [ -f "$state/mode" ]; then stop_netns; fi
  make_key
  local login="fusion-dev"
  id "$login" >/dev/null 2>&1 || useradd -m -s /bin/bash -c "fusion dev server" "$login"
  # An account without a password is locked; sshd (without PAM) refuses even keys then.
  echo "$login:$(head -c 18 /dev/urandom | base64)" | chpasswd
  local home
  home="$(getent passwd "$login" | cut -d: -f6)"
  install -d -m 700 -o "$login" -g "$login" "$home/.ssh"
  install -m 600 -o "$login" -g "$login" "$state/id_ed25519.pub" "$home/.ssh/authorized_keys"
  for t in ed25519 ecdsa; do
    [ -f "$state/host_$t" ] || ssh-keygen -q -t "$t" -N "" -C host -f "$state/host_$t"
  done
  cat > "$state/sshd_config" <<CFG
Port 22
ListenAddress $addr_in
HostKey $state/host_ed25519
HostKey $state/host_ecdsa
PidFile $state/sshd.pid
AuthorizedKeysFile .ssh/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
AllowUsers $login
UsePAM no
AllowTcpForwarding yes
MaxSessions 100
MaxStartups 100:30:200
PrintMotd no
Subsystem sftp internal-sftp
CFG
  mkdir -p /run/sshd
  ip netns add "$ns"
  ip link add "$veth_out" type veth peer name "$veth_in" netns "$ns"
  ip addr add "$addr_out/30" dev "$veth_out"
  ip link set "$veth_out" up
  ip -n "$ns" addr add "$addr_in/30" dev "$veth_in"
  ip -n "$ns" link set "$veth_in" up
  ip -n "$ns" link set lo up
  ip netns exec "$ns" /usr/sbin/sshd -f "$state/sshd_config"
  {
    echo "$addr_in $(awk '{print $1" "$2}' "$state/host_ed25519.pub")"
    echo "$addr_in $(awk '{print $1" "$2}' "$state/host_ecdsa.pub")"
  } > "$state/known_hosts"
  echo netns > "$state/mode"
  echo "$login" > "$state/user"
  print_info "$addr_in" 22 "$login" "no Docker engine: sshd in network namespace $ns"
  command -v deno >/dev/null && echo "Deno on the server: $(command -v deno) (the namespace shares this filesystem)"
}

stop_netns() {
  if [ -f "$state/sshd.pid" ]; then
    pid="$(cat "$state/sshd.pid")"
    if [ -n "$pid" ] && grep -q "$state/sshd_config" "/proc/$pid/cmdline" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
    fi
    rm -f "$state/sshd.pid"
  fi
  if ip netns list 2>/dev/null | grep -qw "$ns"; then
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill "$p" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
  fi
  ip link del "$veth_out" 2>/dev/null || true
  if [ -f "$state/user" ]; then
    login="$(cat "$state/user")"
    for p in $(pgrep -u "$login" 2>/dev/null); do kill "$p" 2>/dev/null || true; done
    userdel -r -f "$login" 2>/dev/null || true
    rm -f "$state/user"
  fi
}

case "${1:-}" in
  start)
    if have_docker; then start_docker; else start_netns; fi
    ;;
  stop)
    mode="$(cat "$state/mode" 2>/dev/null || echo none)"
    case "$mode" in
      docker) stop_docker ;;
      netns) stop_netns ;;
      *) if have_docker; then stop_docker; fi; stop_netns 2>/dev/null || true ;;
    esac
    rm -f "$state/mode"
    echo "stopped"
    ;;
  *)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
