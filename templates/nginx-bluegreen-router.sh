#!/bin/sh
# ship-nginx-router: the one thing the deploy user may run as root in ship's two-color
# mode behind an nginx whose master runs as root (see docs/blue-green.md, "The router
# helper"). It takes numbers and words only, checks each of them, and writes the nginx
# include for one app itself, in a directory only root can write:
#
#   ship-nginx-router <name> <blue port> <green port> <blue weight> <green weight> <token>
#
#   name     the app's router name: letters, digits, _ (1-64); the file is CONF_DIR/<name>.conf
#   ports    1-65535, different
#   weights  0-100 each, not both 0 (percent of new requests per color)
#   token    the ship_route cookie of this rollout: 8-64 of [0-9A-Za-z._-], or - for none
#
# It renders CONF_DIR/<name>.conf (a temporary file renamed over it), checks the whole
# config with `nginx -t` (putting the previous file back if that fails), reloads nginx,
# and returns only once nginx's old workers have stopped taking new connections, so
# every request after it is routed by the new file.
#
# `ship-nginx-router --print <same arguments>` prints the file instead (nothing written).
#
# Install it as root (ship init --template nginx-bluegreen writes it to deploy/nginx/):
#
#   sudo install -o root -g root -m 0755 deploy/nginx/ship-nginx-router.sh /usr/local/sbin/ship-nginx-router
#   sudo install -d -o root -g root -m 0755 /etc/nginx/ship
#   echo 'deploy ALL=(root) NOPASSWD: /usr/local/sbin/ship-nginx-router' | sudo tee /etc/sudoers.d/ship-router
#   sudo chmod 0440 /etc/sudoers.d/ship-router
#
# Edit the constants below when installing, as root; the helper never takes a path or
# configuration text from its caller, and reads nothing from the environment.
set -eu
umask 022
LC_ALL=C
export LC_ALL
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH

# --- constants (edit when installing) ---------------------------------------------
# Where the includes live (root:root 0755; the site includes CONF_DIR/<name>.conf).
CONF_DIR=/etc/nginx/ship
# The nginx binary, and the arguments that name your main config if not the default.
NGINX=/usr/sbin/nginx
NGINX_ARGS=""
# nginx's pid file (the `pid` directive): the helper waits for that master's old workers.
PID_FILE=/run/nginx.pid
# The longest the helper waits for the old workers to stop taking connections (seconds).
WAIT_SECONDS=20
# ----------------------------------------------------------------------------------

die() {
  echo "ship-nginx-router: $*" >&2
  exit 2
}

print_only=no
if [ "${1-}" = "--print" ]; then
  print_only=yes
  shift
fi
[ "$#" -eq 6 ] || die "usage: ship-nginx-router [--print] <name> <blue port> <green port> <blue weight> <green weight> <token|->  (got $# arguments)"
name=$1 blue_port=$2 green_port=$3 blue_weight=$4 green_weight=$5 token=$6

# Each argument whole against a fixed pattern (case patterns: no regex engine, no locale).
only() { # only <value> <allowed characters>: non-empty and made of those characters only
  case $1 in '' | *[!$2]*) return 1 ;; esac
  return 0
}
only "$name" 'A-Za-z0-9_' && [ "${#name}" -le 64 ] || die "refused: the name must be 1-64 letters, digits or _"
for p in "$blue_port" "$green_port"; do
  only "$p" '0-9' && [ "${#p}" -le 5 ] || die "refused: a port must be a number from 1 to 65535"
  case $p in 0*) die "refused: a port must be a number from 1 to 65535" ;; esac
  [ "$p" -le 65535 ] || die "refused: a port must be a number from 1 to 65535"
done
[ "$blue_port" != "$green_port" ] || die "refused: blue and green need different ports"
for w in "$blue_weight" "$green_weight"; do
  only "$w" '0-9' && [ "${#w}" -le 3 ] || die "refused: a weight must be a whole number from 0 to 100"
  case $w in 0?*) die "refused: a weight must be a whole number from 0 to 100" ;; esac
  [ "$w" -le 100 ] || die "refused: a weight must be a whole number from 0 to 100"
done
[ "$blue_weight" -gt 0 ] || [ "$green_weight" -gt 0 ] || die "refused: both weights are 0 (traffic would go nowhere)"
if [ "$token" != "-" ]; then
  only "$token" '0-9A-Za-z._-' && [ "${#token}" -ge 8 ] && [ "${#token}" -le 64 ] || die "refused: the token must be 8-64 of 0-9 A-Z a-z . _ - (or - for none)"
fi

# The include. ship's own renderer (src/colors/router.ts, renderRouter) writes the same
# text for an nginx that runs as the deploy user; a unit test keeps the two equal.
render() {
  echo "# Written by ship: replaced on every deploy, switch and rollback. Do not edit."
  echo "# blue: 127.0.0.1:$blue_port $blue_weight %"
  echo "# green: 127.0.0.1:$green_port $green_weight %"
  echo ""
  for c in blue green; do
    if [ "$c" = blue ]; then port=$blue_port; else port=$green_port; fi
    printf 'upstream %s_%s {\n    server 127.0.0.1:%s;\n    keepalive 16;\n}\n' "$name" "$c" "$port"
  done
  echo "upstream ${name}_split {"
  [ "$blue_weight" -eq 0 ] || echo "    server 127.0.0.1:$blue_port weight=$blue_weight;"
  [ "$green_weight" -eq 0 ] || echo "    server 127.0.0.1:$green_port weight=$green_weight;"
  echo "    keepalive 16;"
  echo "}"
  echo "map \$cookie_ship_route \$${name}_upstream {"
  echo "    default ${name}_split;"
  if [ "$token" != "-" ]; then
    echo "    $token-blue ${name}_blue;"
    echo "    $token-green ${name}_green;"
  fi
  echo "}"
  echo "map \$scheme \$${name}_route_secure {"
  echo "    default \"\";"
  echo "    https \"; Secure\";"
  echo "}"
  echo "map \$upstream_addr \$${name}_route_cookie {"
  echo "    default \"\";"
  if [ "$token" != "-" ]; then
    for c in blue green; do
      if [ "$c" = blue ]; then port=$blue_port w=$blue_weight; else port=$green_port w=$green_weight; fi
      [ "$w" -gt 0 ] || continue
      printf '    ~127\\.0\\.0\\.1:%s$ "ship_route=%s-%s; Path=/; HttpOnly; SameSite=Lax${%s_route_secure}";\n' "$port" "$token" "$c" "$name"
    done
  fi
  echo "}"
}

if [ "$print_only" = yes ]; then
  render
  exit 0
fi

[ "$(id -u)" -eq 0 ] || die "run me as root (sudo -n $0 ...)"
[ -d "$CONF_DIR" ] || die "$CONF_DIR is missing: create it as root (install -d -o root -g root -m 0755 $CONF_DIR)"

# One change at a time (two apps deploying at once share nginx -t and the reload).
if command -v flock >/dev/null 2>&1; then
  exec 9>"$CONF_DIR/.lock"
  flock -w 60 9 || die "another change holds $CONF_DIR/.lock"
fi

file="$CONF_DIR/$name.conf"
tmp="$CONF_DIR/.$name.conf.tmp.$$"
prev="$CONF_DIR/.$name.conf.prev.$$"
trap 'rm -f "$tmp" "$prev"' EXIT
render >"$tmp"
chmod 0644 "$tmp"
had_prev=no
if [ -f "$file" ]; then
  cp -p "$file" "$prev"
  had_prev=yes
fi
mv -f "$tmp" "$file"
# shellcheck disable=SC2086 # NGINX_ARGS is the admin's word list
if ! out=$($NGINX $NGINX_ARGS -t -q 2>&1); then
  if [ "$had_prev" = yes ]; then mv -f "$prev" "$file"; else rm -f "$file"; fi
  echo "ship-nginx-router: nginx -t failed with the new $file; the previous one is back:" >&2
  echo "$out" >&2
  exit 1
fi

# The master and its workers taking connections now: those must be gone before we return.
master=""
[ -r "$PID_FILE" ] && master=$(tr -cd '0-9' <"$PID_FILE")
if [ -z "$master" ] || ! kill -0 "$master" 2>/dev/null; then
  echo "ship-nginx-router: wrote $file; nginx is not running ($PID_FILE), nothing to reload" >&2
  exit 0
fi
workers() { # pids of the master's workers that still accept connections
  for d in /proc/[0-9]*; do
    [ -r "$d/stat" ] || continue
    pp=$(sed 's/^.*) //' "$d/stat" 2>/dev/null | cut -d' ' -f2) || continue
    [ "$pp" = "$master" ] || continue
    cmd=$(tr '\0' ' ' <"$d/cmdline" 2>/dev/null) || continue
    case $cmd in *"shutting down"*) continue ;; "nginx: worker process"*) echo "${d#/proc/}" ;; esac
  done
}
old=$(workers)
# shellcheck disable=SC2086
$NGINX $NGINX_ARGS -s reload || die "nginx -s reload failed (the new $file is in place and passed nginx -t)"
step=0
while :; do
  left=""
  now=$(workers)
  for p in $old; do
    case " $(echo $now) " in *" $p "*) left="$left $p" ;; esac
  done
  [ -n "$left" ] || break
  if [ "$step" -ge $((WAIT_SECONDS * 20)) ]; then
    echo "ship-nginx-router: nginx's old workers ($left) still take connections ${WAIT_SECONDS} s after the reload" >&2
    exit 3
  fi
  sleep 0.05 2>/dev/null || sleep 1
  step=$((step + 1))
done
exit 0
