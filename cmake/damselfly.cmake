# SPDX-License-Identifier: Apache-2.0
# Shared build settings: warnings, sanitizers, ccache and the no-I/O guard for policy targets.

find_program(DAMSELFLY_CCACHE ccache)
if(DAMSELFLY_CCACHE)
  set(CMAKE_CXX_COMPILER_LAUNCHER ${DAMSELFLY_CCACHE})
endif()

# -O2 rather than CMake's default -O3: it compiles faster here and GCC 12's
# -O3 inlining raises false -Wrestrict reports inside libstdc++. GCC 12 also
# misreports Asio's coroutine frame allocator as -Wmismatched-new-delete.
# Release binaries are what the Debian packages ship: Debian's hardening
# (fortified libc calls, read-only relocations resolved at start).
set(CMAKE_CXX_FLAGS_RELEASE "-O2 -DNDEBUG -D_FORTIFY_SOURCE=2" CACHE STRING "" FORCE)
set(CMAKE_EXE_LINKER_FLAGS_RELEASE "-Wl,-z,relro,-z,now" CACHE STRING "" FORCE)

add_library(damselfly_warnings INTERFACE)
target_compile_options(damselfly_warnings INTERFACE -Wall -Wextra -Wpedantic)
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  target_compile_options(damselfly_warnings INTERFACE -Wshadow=local -Wno-restrict
                                                      -Wno-mismatched-new-delete)
endif()
if(DAMSELFLY_WERROR)
  target_compile_options(damselfly_warnings INTERFACE -Werror)
endif()
# Fuzzing (clang only): every library is instrumented for coverage and built
# with ASan+UBSan; the fuzz targets link libFuzzer's main (tests/fuzz).
if(DAMSELFLY_FUZZ)
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()
if(DAMSELFLY_SANITIZE)
  target_compile_options(damselfly_warnings INTERFACE -fsanitize=address,undefined
                                                      -fno-omit-frame-pointer)
  target_link_options(damselfly_warnings INTERFACE -fsanitize=address,undefined)
endif()
# ThreadSanitizer: everything, libraries and test programs alike, so the
# servers the integration tests start are checked too.
if(DAMSELFLY_TSAN)
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
endif()

# Policy and storage libraries must not do network I/O. Predefining the include
# guard of Asio's configuration header makes any Asio include fail to compile in
# such a target, so the rule is enforced by the compiler rather than by review.
function(damselfly_forbid_asio target)
  target_compile_definitions(${target} PRIVATE BOOST_ASIO_DETAIL_CONFIG_HPP=1)
endfunction()

# damselfly_library(NAME SOURCES ... PUBLIC_DEPS ... PRIVATE_DEPS ...) builds a static library with
# public headers in include/ and private sources in src/.
function(damselfly_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;PUBLIC_DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include
                                     PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/src)
  target_link_libraries(${name} PUBLIC ${ARG_PUBLIC_DEPS} PRIVATE ${ARG_PRIVATE_DEPS}
                                       damselfly_warnings)
endfunction()
