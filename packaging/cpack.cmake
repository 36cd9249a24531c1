# SPDX-License-Identifier: MIT
# Install rules and the Debian package (CPack DEB). Included at the end of the
# top CMakeLists.txt, after add_subdirectory(fuse), so the imgfs executable
# exists when it is built.
#   cmake --install build --prefix /tmp/x
#   (cd build && cpack -G DEB)     # build/imgfs_<version>_<arch>.deb
if(TARGET imgfs)
  install(TARGETS imgfs RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()
install(FILES ${CMAKE_CURRENT_LIST_DIR}/imgfs.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR} OPTIONAL)

set(CPACK_PACKAGE_NAME imgfs)
set(CPACK_PACKAGE_VENDOR "imgfs maintainers")
set(CPACK_PACKAGE_CONTACT "imgfs maintainers <maintainers@imgfs.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "expose disk images (qcow2, raw, ...) as raw files through FUSE")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_GENERATOR DEB)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "imgfs maintainers <maintainers@imgfs.invalid>")
set(CPACK_DEBIAN_PACKAGE_SECTION utils)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # imgfs_<version>_<arch>.deb
# The libraries imgfs links (which depend on the optional features found)
# come from dpkg-shlibdeps; fuse3 is what provides fusermount3 at run time.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "fuse3")
# The nbdkit plugin (nbd/) is installed into nbdkit's plugin directory when
# built; nbdkit itself is only needed to use it.
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "nbdkit, libnbd-bin")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "imgfs mounts virtual machine disk images and shows each one as a single\nread-only raw file, reading the image format (qcow2 with backing chains,\ncompression and snapshots; raw) in user space through FUSE.")
include(CPack)
