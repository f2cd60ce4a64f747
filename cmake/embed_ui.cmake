# SPDX-License-Identifier: Apache-2.0
# Writes OUT, a C++ source holding the files FILES (in DIR) as the dashboard's
# assets: run as `cmake -DOUT=... -DDIR=... -DFILES=a,b -P embed_ui.cmake`.
string(REPLACE "," ";" FILES "${FILES}")
set(body "")
set(table "")
set(n 0)
foreach(name IN LISTS FILES)
  file(READ "${DIR}/${name}" hex HEX)
  string(LENGTH "${hex}" hex_len)
  math(EXPR size "${hex_len} / 2")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "'\\\\x\\1'," bytes "${hex}")
  if(name MATCHES "\\.html$")
    set(type "text/html; charset=utf-8")
  elseif(name MATCHES "\\.js$")
    set(type "text/javascript; charset=utf-8")
  elseif(name MATCHES "\\.css$")
    set(type "text/css; charset=utf-8")
  elseif(name MATCHES "\\.svg$")
    set(type "image/svg+xml")
  else()
    message(FATAL_ERROR "embed_ui: no content type for ${name}")
  endif()
  string(APPEND body "constexpr char file${n}[] = {${bytes}};\n")
  string(APPEND table "    {\"${name}\", \"${type}\", {file${n}, ${size}}},\n")
  math(EXPR n "${n} + 1")
endforeach()
file(WRITE "${OUT}.tmp" "// Generated from supernode/ui/ by cmake/embed_ui.cmake: edit those files instead.
#include \"ui_assets.hpp\"

namespace damselfly::supernode {
namespace {
${body}
constexpr ui_asset assets[] = {
${table}};
}  // namespace

std::span<const ui_asset> ui_assets() {
  return assets;
}

}  // namespace damselfly::supernode
")
# Unchanged files keep their time stamp: nothing recompiles.
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUT}.tmp")
