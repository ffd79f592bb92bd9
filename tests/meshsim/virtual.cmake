# tests/meshsim/virtual.cmake: `meshsim --virtual` (tools/meshsim/run_virtual.c)
# on the real session state machine and stores, with the scenario helpers
# and the JSON result of scenario.c and result.c.  Included from
# tests/meshsim/CMakeLists.txt.
set(MS_VSIM_DIR ${PROJECT_SOURCE_DIR}/tools/meshsim)

ms_add_check_test(test_virtual
  SOURCES ${PROJECT_SOURCE_DIR}/tests/meshsim/test_virtual.c
          ${MS_VSIM_DIR}/run_virtual.c ${MS_VSIM_DIR}/scenario.c
          ${MS_VSIM_DIR}/result.c
  LIBS ms_node ms_store ms_net ms_op ms_crypto PkgConfig::INIH
       PkgConfig::JANSSON m TIMEOUT 240 LABELS meshsim)
target_include_directories(test_virtual PRIVATE ${MS_VSIM_DIR})

# The same runner over a session with a bug planted on purpose
# (MS_SESSION_PLANTED_BUG in node/session.c): the session's files are
# compiled again with the flag, and the rest of node/ without them, so the
# product's objects are never built with it.
set(MS_VSIM_NODE ${PROJECT_SOURCE_DIR}/node)
ms_add_check_test(test_virtual_planted
  SOURCES ${PROJECT_SOURCE_DIR}/tests/meshsim/test_virtual.c
          ${MS_VSIM_DIR}/run_virtual.c ${MS_VSIM_DIR}/scenario.c
          ${MS_VSIM_DIR}/result.c
          ${MS_VSIM_NODE}/session.c ${MS_VSIM_NODE}/session_vv.c
          ${MS_VSIM_NODE}/session_ops.c ${MS_VSIM_NODE}/session_relay.c
          ${MS_VSIM_NODE}/idset.c
          ${MS_VSIM_NODE}/sendq.c ${MS_VSIM_NODE}/counters.c
          ${MS_VSIM_NODE}/log.c ${MS_VSIM_NODE}/ratelog.c
  LIBS ms_store ms_net ms_op ms_crypto PkgConfig::INIH PkgConfig::JANSSON m
  TIMEOUT 240 LABELS meshsim)
target_include_directories(test_virtual_planted PRIVATE ${MS_VSIM_DIR}
  ${MS_VSIM_NODE})
target_compile_definitions(test_virtual_planted PRIVATE MS_SESSION_PLANTED_BUG)
