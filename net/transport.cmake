# net/transport: CURVE ROUTER/DEALER sockets, ZAP handler, socket monitors.
# Included from net/CMakeLists.txt after ms_net is defined.
target_sources(ms_net PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/transport.c
  ${CMAKE_CURRENT_LIST_DIR}/zap.c)
target_link_libraries(ms_net PUBLIC PkgConfig::ZMQ)
