# packaging.cmake — the Debian package (`cpack -G DEB` in the build
# directory): what goes in it, its control fields and maintainer scripts.
# docs/packaging.md says how to build and install it.
#
# The package is made of install components, not of everything
# `cmake --install` installs:
#   Unspecified        meshsync-node, node-inspect, libmeshsync, the .pc
#                      file, the man pages
#   meshsync_headers   meshsync.h, ms_err.h
#   meshsync_examples  the examples' sources and README
#                      (share/doc/meshsync/examples, docs/examples.md)
#   meshsync_deb_unit  the systemd unit made for /usr (below)
# and leaves out meshsync_devtools (meshsim, meshbench: developer tools that
# need the source tree's scenarios or run for minutes; not for a router)
# and meshsync_unit (the unit made for the configured prefix).

# A Debian package always installs into /usr, whatever prefix the build
# directory was configured with (the default /usr/local too), so
# `cpack -G DEB` in a plain build directory gives a working package.
set(MS_DEB_PREFIX /usr)

# The unit's ExecStart names the package's bin directory, not the
# configured prefix's: a second copy of the unit, made for /usr and
# installed only when CPack asks for its component.
set(ms_bindir_configured ${MS_BINDIR})
set(MS_BINDIR ${MS_DEB_PREFIX}/${CMAKE_INSTALL_BINDIR})
configure_file(${PROJECT_SOURCE_DIR}/tools/service/meshsync.service.in
               ${PROJECT_BINARY_DIR}/deb/meshsync.service @ONLY)
set(MS_BINDIR ${ms_bindir_configured})
install(FILES ${PROJECT_BINARY_DIR}/deb/meshsync.service
        DESTINATION lib/systemd/system
        COMPONENT meshsync_deb_unit EXCLUDE_FROM_ALL)

# The maintainer scripts (the meshsync user, enabling and starting the
# unit) are plain sh in tools/service/deb/; tests/package checks them.
set(MS_DEB_SCRIPTS ${PROJECT_SOURCE_DIR}/tools/service/deb/postinst
    ${PROJECT_SOURCE_DIR}/tools/service/deb/prerm
    ${PROJECT_SOURCE_DIR}/tools/service/deb/postrm)

set(MS_DEB_MAINTAINER "meshsync maintainers <maintainers@meshsync.invalid>"
    CACHE STRING "Maintainer field of the Debian package")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME meshsync)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "${MS_DEB_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "peer-to-peer mesh sync node for community and village networks")
set(CPACK_PACKAGE_DESCRIPTION
    "meshsync keeps a durable, signed operation log in LMDB on every node; apps
write locally and never wait for the network. Nodes that share a network key
find each other by mDNS (Avahi) or static peers and exchange Ed25519-signed
operations over ZeroMQ (CURVE), hop by hop.
This package holds the daemon meshsync-node, its systemd unit (user
meshsync, data in /var/lib/meshsync), node-inspect, the library
libmeshsync with its header and pkg-config file, and the man pages.")
set(CPACK_PACKAGING_INSTALL_PREFIX ${MS_DEB_PREFIX})
set(CPACK_STRIP_FILES ON)

set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_GROUPING ALL_COMPONENTS_IN_ONE)
set(CPACK_COMPONENTS_ALL Unspecified meshsync_headers meshsync_examples
    meshsync_deb_unit)

set(CPACK_DEBIAN_PACKAGE_NAME meshsync)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT) # meshsync_VERSION-1_ARCH.deb
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# The shared libraries the programs link come from dpkg-shlibdeps (in
# dpkg-dev; CPack also needs `file` for it), with the minimum versions the
# build saw.  Without those tools, the same list by hand for Debian 12.
# adduser is for postinst.
find_program(MS_DPKG_SHLIBDEPS dpkg-shlibdeps)
find_program(MS_FILE_PROGRAM file)
if(MS_DPKG_SHLIBDEPS AND MS_FILE_PROGRAM)
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
  set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
else()
  message(STATUS "Debian package: no dpkg-shlibdeps or file; Depends is the Debian 12 list")
  set(CPACK_DEBIAN_PACKAGE_DEPENDS
      "adduser, libc6, libsodium23, libzmq5, liblmdb0, libavahi-client3, libavahi-common3, libinih1, libmnl0, libjansson4")
endif()
# Discovery needs a running avahi-daemon; without one the node warns once
# and uses static peers.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "avahi-daemon")
# Building a program against libmeshsync (a static archive) links its
# dependencies too: meshsync.pc Requires their -dev packages.
set(CPACK_DEBIAN_PACKAGE_SUGGESTS
    "pkg-config, libsodium-dev, libzmq3-dev, liblmdb-dev, libavahi-client-dev, libinih-dev, libmnl-dev")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${MS_DEB_SCRIPTS})
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

include(CPack)
