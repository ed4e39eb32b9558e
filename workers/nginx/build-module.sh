#!/usr/bin/env bash
# Builds ngx_http_upcheck_module.so against Debian's nginx-dev tree, with nginx's own
# configure flags (conf_flags, --with-compat), so that stock nginx loads it.
# Usage: build-module.sh NGINX_SRC MODULE_DIR LIBUPCHECK_A INCLUDE_DIR WORK_DIR OUT_SO LIBS...
set -euo pipefail
src=$1 module=$2 archive=$3 include=$4 work=$5 out=$6
shift 6
abs() { (cd "$(dirname "$1")" && echo "$(pwd)/$(basename "$1")"); }
module=$(cd "$module" && pwd) archive=$(abs "$archive") include=$(cd "$include" && pwd)
log=$work.log

# The tree is copied once; configure runs again only when the module's build description
# or the libraries it names change (a stamp of both).
stamp="$(cat "$module/config") $archive $include $*"
if [ ! -f "$work/objs/Makefile" ] || [ "$(cat "$work/.upcheck-stamp" 2>/dev/null)" != "$stamp" ]; then
  rm -rf "$work"
  mkdir -p "$work"
  cp -r "$src/." "$work/"
  # nginx links modules with cc: the C++ runtime and the engine's libraries are named here.
  export UPCHECK_INCS="$include"
  export UPCHECK_LIBS="$archive $* -Wl,--version-script=$module/exports.map"
  # shellcheck disable=SC1091
  (cd "$work" && . ./conf_flags && ./configure \
      --with-cc-opt="$(dpkg-buildflags --get CFLAGS) -fPIC $(dpkg-buildflags --get CPPFLAGS)" \
      --with-ld-opt="$(dpkg-buildflags --get LDFLAGS) -fPIC" \
      "${NGX_CONF_FLAGS[@]}" --add-dynamic-module="$module") > "$log" 2>&1 \
    || { cat "$log" >&2; echo "build-module.sh: nginx's configure failed (log: $log)" >&2; exit 1; }
  echo "$stamp" > "$work/.upcheck-stamp"
fi
# The link does not depend on the archive in nginx's Makefile: relink every time.
rm -f "$work/objs/ngx_http_upcheck_module.so"
make -C "$work" -f objs/Makefile modules >> "$log" 2>&1 \
  || { tail -50 "$log" >&2; echo "build-module.sh: make failed (log: $log)" >&2; exit 1; }
cp "$work/objs/ngx_http_upcheck_module.so" "$out"
