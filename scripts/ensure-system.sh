#!/usr/bin/env bash
# Installs the real servers the test suite runs (OpenSSH's sshd, nginx, PostgreSQL, sudo,
# php-fpm 8.2 with OPcache, Composer) and the tools `npm run bench` compares ship with (rsync, on both ends; GNU time for
# peak memory) when they are missing. Needs root (apt-get). The tests start and stop them themselves.
set -euo pipefail
need=()
command -v sshd >/dev/null 2>&1 || [ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then need+=(postgresql); fi
# Debian 12's PHP: php8.2-fpm (php-fpm8.2) and its OPcache module (php8.2-opcache).
[ -x /usr/sbin/php-fpm8.2 ] || need+=(php8.2-fpm)
ls /usr/lib/php/*/opcache.so >/dev/null 2>&1 || need+=(php8.2-opcache)
# Composer, for the PHP config's build (`composer install --no-dev --optimize-autoloader`).
command -v composer >/dev/null 2>&1 || need+=(composer)
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v rsync >/dev/null 2>&1 || need+=(rsync)
[ -x /usr/bin/time ] || need+=(time)
command -v ssh >/dev/null 2>&1 || need+=(openssh-client)
# The two-color router helper runs through sudo (test/integration/bluegreen-root.test.ts).
command -v sudo >/dev/null 2>&1 || need+=(sudo)
if [ ${#need[@]} -gt 0 ]; then
  echo "ensure-system: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# Distribution packages start their own services; the tests start private ones instead.
for svc in nginx ssh postgresql php8.2-fpm; do (service "$svc" stop >/dev/null 2>&1 || true); done
exit 0
