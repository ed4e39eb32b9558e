#!/bin/sh
# Installs the current build into DESTDIR and builds against the installed tree only,
# through pkg-config, as a user of the library would:
#   OUT/embed_example_shared  the README's example, linked to libupcheck.so.0
#   OUT/embed_example_static  the same, linked to libupcheck.a
#   OUT/c_api_check           <upcheck.h> compiled as C99, linked to the shared library
# and checks the installed headers: no upcheck/internal/ among them or included by them, and
# <upcheck/upcheck.h> compiles on its own.
# Usage: build_example.sh MESON BUILD_ROOT SOURCE_DIR DESTDIR LIBDIR OUT
# (CC, CXX and UPCHECK_EXTRA_FLAGS, the build's sanitizer flags, from the environment)
set -eu
meson=$1 build_root=$2 source_dir=$3 destdir=$4 libdir=$5 out=$6

"$meson" install -C "$build_root" --destdir "$destdir" --no-rebuild --quiet

export PKG_CONFIG_SYSROOT_DIR="$destdir"
export PKG_CONFIG_PATH="$destdir$libdir/pkgconfig"
upcheck_cflags=$(pkg-config --cflags upcheck)
# One -I and nothing else: no public header needs a dependency's flags.
# shellcheck disable=SC2086
set -- $upcheck_cflags
if [ $# -ne 1 ]; then
  echo "upcheck.pc gives more Cflags than its include directory: $upcheck_cflags" >&2
  exit 1
fi
incdir=${1#-I}
if [ ! -d "$incdir/upcheck" ] || [ -e "$incdir/upcheck/internal" ] ||
  grep -rlE '#include.*upcheck/internal' "$incdir"; then
  echo "$incdir: want the public headers, none of upcheck/internal/ nor an #include of it" >&2
  exit 1
fi
shared_libs=$(pkg-config --libs upcheck)
static_libs=$(pkg-config --static --libs upcheck | sed 's/-lupcheck\b/-l:libupcheck.a/')
uv_flags=$(pkg-config --cflags --libs libuv)
rpath="-Wl,-rpath,$destdir$libdir"
extra=${UPCHECK_EXTRA_FLAGS:-}

# shellcheck disable=SC2086  # the flags are lists of words
echo '#include <upcheck/upcheck.h>' |
  $CXX -std=c++20 -Wall -Wextra -Werror $extra $upcheck_cflags -fsyntax-only -x c++ -
# shellcheck disable=SC2086
$CXX -std=c++20 -Wall -Wextra -Werror $extra $upcheck_cflags "$source_dir/embed_example.cc" \
  $shared_libs $uv_flags $rpath -o "$out/embed_example_shared"
# shellcheck disable=SC2086
$CXX -std=c++20 -Wall -Wextra -Werror $extra $upcheck_cflags "$source_dir/embed_example.cc" \
  $static_libs $uv_flags -o "$out/embed_example_static"
# shellcheck disable=SC2086
$CC -std=c99 -pedantic -Wall -Wextra -Werror $extra $upcheck_cflags "$source_dir/c_api_check.c" \
  $shared_libs $rpath -o "$out/c_api_check"
