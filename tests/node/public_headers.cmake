# public_headers.cmake — a CTest script (cmake -P): what an embedder gets.
# Installs the public headers alone into a fresh prefix (the real install
# rule, component meshsync_headers) and checks there that
#   1. exactly the public headers are installed, including nothing but
#      each other and standard headers;
#   2. tests/node/public_api.c compiles against them alone as strict C99
#      (no internal helper such as ms_errf declared, error values fixed);
#   3. the functions they declare are exactly the public API below, so an
#      internal function that leaks into them is caught by name;
#   4. dropping the result of an MS_MUST_USE call is a compiler error
#      (GCC and clang).
# Inputs: BUILD_DIR, OUT_DIR, INCLUDEDIR, CC, CC_ID, SRC_DIR.
cmake_minimum_required(VERSION 3.18)

set(public_headers meshsync.h ms_err.h)
set(std_headers stddef.h stdint.h)
# Every function the installed headers declare; a new public call is added
# here once it is documented in meshsync.h.
set(public_functions
  ms_errbuf_clear ms_strerror
  ms_node_close ms_node_del ms_node_get ms_node_id ms_node_id_hex ms_node_init
  ms_node_network_id_hex ms_node_network_key_text ms_node_open ms_node_put
  ms_node_write_batch ms_node_scan ms_node_resolve ms_node_watch_fd
  ms_node_changes ms_node_status_get ms_node_link_name ms_node_peers)

function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out
                  ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (${rc}):\n${ARGN}\n${out}${err}")
  endif()
  set(run_out "${out}" PARENT_SCOPE)
endfunction()

file(REMOVE_RECURSE "${OUT_DIR}")
file(MAKE_DIRECTORY "${OUT_DIR}")
run("install" "${CMAKE_COMMAND}" --install "${BUILD_DIR}"
    --component meshsync_headers --prefix "${OUT_DIR}/prefix")
set(inc "${OUT_DIR}/prefix/${INCLUDEDIR}/meshsync")

# 1. What is installed, and what it includes.
file(GLOB installed RELATIVE "${inc}" "${inc}/*")
list(SORT installed)
list(SORT public_headers)
if(NOT installed STREQUAL public_headers)
  message(FATAL_ERROR "installed headers: ${installed}; expected: ${public_headers}")
endif()
foreach(h IN LISTS installed)
  file(STRINGS "${inc}/${h}" lines REGEX "^[ \t]*#[ \t]*include")
  foreach(line IN LISTS lines)
    if(line MATCHES "<([^>]+)>")
      if(NOT CMAKE_MATCH_1 IN_LIST std_headers)
        message(FATAL_ERROR "${h}: includes <${CMAKE_MATCH_1}>, not one of: ${std_headers}")
      endif()
    elseif(line MATCHES "\"([^\"]+)\"")
      if(NOT CMAKE_MATCH_1 IN_LIST public_headers)
        message(FATAL_ERROR "${h}: includes \"${CMAKE_MATCH_1}\", which is not installed")
      endif()
    else()
      message(FATAL_ERROR "${h}: unexpected line: ${line}")
    endif()
  endforeach()
endforeach()

set(cflags -std=c99 -pedantic -Wall -Wextra -Werror -I "${inc}")

# 2. An embedder's program compiles against the installed headers alone.
run("compiling public_api.c" "${CC}" ${cflags} -c "${SRC_DIR}/public_api.c"
    -o "${OUT_DIR}/public_api.o")

# 3. The functions declared, by name.
file(WRITE "${OUT_DIR}/only.c" "#include <meshsync.h>\n")
run("preprocessing meshsync.h" "${CC}" ${cflags} -E -P "${OUT_DIR}/only.c")
string(REGEX MATCHALL "ms_[A-Za-z0-9_]+[ \t\r\n]*\\(" calls "${run_out}")
set(declared "")
foreach(c IN LISTS calls)
  string(REGEX REPLACE "[ \t\r\n]*\\($" "" c "${c}")
  list(APPEND declared "${c}")
endforeach()
list(REMOVE_DUPLICATES declared)
list(SORT declared)
list(SORT public_functions)
if(NOT declared STREQUAL public_functions)
  set(extra ${declared})
  list(REMOVE_ITEM extra ${public_functions})
  set(missing ${public_functions})
  list(REMOVE_ITEM missing ${declared})
  message(FATAL_ERROR "public headers declare functions that are not the public "
          "API: extra: [${extra}] missing: [${missing}]")
endif()

# 4. warn_unused_result reaches the embedder.
if(CC_ID MATCHES "GNU|Clang")
  file(WRITE "${OUT_DIR}/drop.c"
    "#include <meshsync.h>\n"
    "void drop(ms_node *n);\n"
    "void drop(ms_node *n) { ms_node_put(n, \"k\", 1, \"v\", 1, 0, NULL, NULL); }\n")
  execute_process(COMMAND "${CC}" ${cflags} -Werror=unused-result -c
                  "${OUT_DIR}/drop.c" -o "${OUT_DIR}/drop.o"
                  RESULT_VARIABLE rc OUTPUT_QUIET ERROR_VARIABLE err)
  if(rc EQUAL 0 OR NOT err MATCHES "unused-result|warn_unused_result|ignoring return value")
    message(FATAL_ERROR "dropping ms_node_put's result compiled without an "
            "unused-result error (rc ${rc}):\n${err}")
  endif()
endif()
message(STATUS "public headers: ${installed}; functions: ${declared}")
