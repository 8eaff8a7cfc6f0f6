#!/usr/bin/env bash
# Postgres for the tests, from Debian's package.
#   scripts/postgres.sh install   apt-get installs the server if it is missing
#   scripts/postgres.sh start DIR PORT   starts a throwaway cluster in DIR on 127.0.0.1:PORT
#                                  (as the postgres user when run as root) and prints its URL
#   scripts/postgres.sh stop DIR
set -euo pipefail
bindir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
case "${1:-}" in
  install)
    if [[ -z "$(bindir)" ]]; then
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq >/dev/null
      apt-get install -y -qq postgresql >/dev/null
    fi
    echo "postgres binaries: $(bindir)"
    ;;
  start)
    dir="$2"; port="$3"; bin="$(bindir)"
    [[ -n "$bin" ]] || { echo "postgres is not installed: run scripts/postgres.sh install" >&2; exit 1; }
    run=(bash -c)
    if [[ "$(id -u)" == 0 ]]; then run=(su postgres -s /bin/bash -c); fi
    mkdir -p "$dir"
    if [[ "$(id -u)" == 0 ]]; then chown postgres "$dir"; chmod a+x "$(dirname "$dir")"; fi
    if [[ ! -f "$dir/PG_VERSION" ]]; then
      "${run[@]}" "'$bin/initdb' -D '$dir' -U postgres --auth=trust -E UTF8 >/dev/null"
    fi
    "${run[@]}" "'$bin/pg_ctl' -D '$dir' -l '$dir/log' -w -o \"-k '$dir' -h 127.0.0.1 -p $port -c fsync=off\" start >/dev/null"
    echo "postgres://postgres@127.0.0.1:$port/postgres"
    ;;
  stop)
    dir="$2"; bin="$(bindir)"
    run=(bash -c)
    if [[ "$(id -u)" == 0 ]]; then run=(su postgres -s /bin/bash -c); fi
    "${run[@]}" "'$bin/pg_ctl' -D '$dir' -m immediate stop >/dev/null" || true
    ;;
  *) echo "usage: scripts/postgres.sh install | start DIR PORT | stop DIR" >&2; exit 2 ;;
esac
