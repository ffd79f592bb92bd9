# tests/net: the transport over real loopback sockets (one test forks a peer).
# Included from tests/net/CMakeLists.txt.
ms_add_check_test(test_transport
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_transport.c
  LIBS ms_net ms_crypto TIMEOUT 180)
