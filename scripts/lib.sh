# SPDX-License-Identifier: Apache-2.0
# Shell helpers shared by the demo and the benchmarks (sourced, not run).

# A TCP port on 127.0.0.1 that nothing answers on right now.
free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$((20000 + RANDOM % 20000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  echo "no free port found" >&2
  return 1
}

# start_nginx ROOT WORKDIR PORT ACCESS_LOG: runs nginx in the foreground in the
# background (its pid lands in $nginx_pid), serving ROOT on 127.0.0.1:PORT and
# logging "$uri $body_bytes_sent" per request to ACCESS_LOG ("off" for none).
start_nginx() {
  local root=$1 work=$2 port=$3 access=$4
  mkdir -p "$work"
  local log_line="access_log $access bytes;"
  [[ $access == off ]] && log_line="access_log off;"
  cat >"$work/nginx.conf" <<CONF
worker_processes 1;
error_log $work/error.log;
pid $work/nginx.pid;
events { worker_connections 1024; }
http {
  log_format bytes '\$uri \$body_bytes_sent';
  $log_line
  client_body_temp_path $work; proxy_temp_path $work; fastcgi_temp_path $work;
  uwsgi_temp_path $work; scgi_temp_path $work;
  sendfile on;
  server { listen 127.0.0.1:$port; root $root; }
}
CONF
  /usr/sbin/nginx -c "$work/nginx.conf" -p "$work" -g 'daemon off;' &
  nginx_pid=$!
  local i
  for i in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nginx did not start on port $port" >&2
  return 1
}

# Timing for the benchmarks: now (seconds, with nanoseconds), elapsed A B
# (B - A to the millisecond), median VALUES...
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", b - a}'; }
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
