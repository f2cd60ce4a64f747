# SPDX-License-Identifier: Apache-2.0
# Install layout and the Debian packages damselfly-supernode and damselfly-dfget (CPack).
include(GNUInstallDirs)

set(damselfly_deploy ${PROJECT_SOURCE_DIR}/deploy)
set(damselfly_pkg ${CMAKE_BINARY_DIR}/package)

# Scripts and the changelog carry the project's version.
foreach(script damselfly-token damselfly-join)
  configure_file(${damselfly_deploy}/sbin/${script}.in ${damselfly_pkg}/sbin/${script} @ONLY
                 FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE
                                  WORLD_READ WORLD_EXECUTE)
endforeach()
configure_file(${damselfly_deploy}/debian/changelog.in ${damselfly_pkg}/changelog @ONLY)

# Man pages from each program's --help and --version (help2man), and the
# compressed changelog Debian wants in each package's doc directory.
find_program(HELP2MAN help2man)
find_program(GZIP gzip REQUIRED)
set(man_pages)
if(HELP2MAN)
  # Subcommands (dfget daemon, preheat, cache) get a section of their own.
  set(dfget_commands ${damselfly_pkg}/man/dfget-commands.h2m)
  add_custom_command(
    OUTPUT ${dfget_commands}
    COMMAND ${CMAKE_COMMAND} -DPROGRAM=$<TARGET_FILE:dfget> "-DCOMMANDS=daemon;preheat;cache"
            -DOUTPUT=${dfget_commands} -P ${PROJECT_SOURCE_DIR}/cmake/subcommand_help.cmake
    DEPENDS dfget ${PROJECT_SOURCE_DIR}/cmake/subcommand_help.cmake
    VERBATIM)
  function(damselfly_man_page name section program description)
    set(page ${damselfly_pkg}/man/${name}.${section}.gz)
    set(include)
    if(ARGN)
      set(include --include=${ARGN})
    endif()
    add_custom_command(
      OUTPUT ${page}
      COMMAND ${HELP2MAN} --no-info --section=${section} --version-string=${PROJECT_VERSION}
              --name=${description} ${include}
              --output=${damselfly_pkg}/man/${name}.${section} ${program}
      COMMAND ${GZIP} -9nf ${damselfly_pkg}/man/${name}.${section}
      DEPENDS ${program} ${ARGN}
      COMMENT "Man page ${name}(${section})"
      VERBATIM)
    set(man_pages ${man_pages} ${page} PARENT_SCOPE)
  endfunction()
  file(MAKE_DIRECTORY ${damselfly_pkg}/man)
  damselfly_man_page(supernode 1 $<TARGET_FILE:supernode>
                     "Damselfly supernode: caches origin files once and schedules peers")
  damselfly_man_page(dfget 1 $<TARGET_FILE:dfget>
                     "download files through the Damselfly peer-to-peer network" ${dfget_commands})
  damselfly_man_page(damselfly-token 8 ${damselfly_pkg}/sbin/damselfly-token
                     "create the Damselfly cluster token on a supernode host")
  damselfly_man_page(damselfly-join 8 ${damselfly_pkg}/sbin/damselfly-join
                     "make a node a member of a Damselfly cluster")
else()
  message(STATUS "help2man not found: no man pages (scripts/setup.sh package installs it)")
endif()
add_custom_command(
  OUTPUT ${damselfly_pkg}/changelog.gz
  COMMAND ${GZIP} -9nc ${damselfly_pkg}/changelog > ${damselfly_pkg}/changelog.gz
  DEPENDS ${damselfly_pkg}/changelog
  VERBATIM)
add_custom_target(package_files ALL DEPENDS ${man_pages} ${damselfly_pkg}/changelog.gz)

# What each package holds. Absolute destinations are the Debian layout.
install(TARGETS supernode RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT supernode)
install(TARGETS dfget RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT dfget)
install(PROGRAMS ${damselfly_pkg}/sbin/damselfly-token DESTINATION ${CMAKE_INSTALL_SBINDIR}
        COMPONENT supernode)
install(PROGRAMS ${damselfly_pkg}/sbin/damselfly-join DESTINATION ${CMAKE_INSTALL_SBINDIR}
        COMPONENT dfget)
install(FILES ${damselfly_deploy}/systemd/damselfly-supernode.service
              ${damselfly_deploy}/systemd/damselfly-token.service
        DESTINATION /lib/systemd/system COMPONENT supernode)
install(FILES ${damselfly_deploy}/systemd/damselfly-dfget.service
        DESTINATION /lib/systemd/system COMPONENT dfget)
install(FILES ${damselfly_deploy}/config/supernode.yaml DESTINATION /etc/damselfly
        COMPONENT supernode)
install(FILES ${damselfly_deploy}/config/dfget.yaml DESTINATION /etc/damselfly COMPONENT dfget)
foreach(component supernode dfget)
  set(doc ${CMAKE_INSTALL_DATADIR}/doc/damselfly-${component})
  install(FILES ${damselfly_deploy}/debian/copyright ${damselfly_pkg}/changelog.gz
          DESTINATION ${doc} COMPONENT ${component})
endforeach()
install(FILES ${PROJECT_SOURCE_DIR}/docs/api.md ${PROJECT_SOURCE_DIR}/docs/security.md
              ${PROJECT_SOURCE_DIR}/docs/release-pipeline.md
        DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/damselfly-supernode COMPONENT supernode)
install(DIRECTORY ${damselfly_deploy}/prometheus ${damselfly_deploy}/grafana
        DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/damselfly-supernode/examples
        COMPONENT supernode)
install(FILES ${PROJECT_SOURCE_DIR}/docs/cli.md ${PROJECT_SOURCE_DIR}/docs/security.md
        DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/damselfly-dfget COMPONENT dfget)
if(HELP2MAN)
  install(FILES ${damselfly_pkg}/man/supernode.1.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1
          COMPONENT supernode)
  install(FILES ${damselfly_pkg}/man/damselfly-token.8.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man8
          COMPONENT supernode)
  install(FILES ${damselfly_pkg}/man/dfget.1.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1
          COMPONENT dfget)
  install(FILES ${damselfly_pkg}/man/damselfly-join.8.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man8
          COMPONENT dfget)
endif()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME damselfly)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "Damselfly developers <damselfly@damselfly.example.org>")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES TRUE)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL supernode dfget)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS OFF)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_SUPERNODE_PACKAGE_NAME damselfly-supernode)
set(CPACK_DEBIAN_DFGET_PACKAGE_NAME damselfly-dfget)
set(CPACK_COMPONENT_SUPERNODE_DESCRIPTION
    "peer-to-peer file distribution for clusters: supernode
The supernode of a Damselfly cluster fetches each source file from its origin
once, caches it in pieces and schedules which node fetches which piece from
whom, so that thousands of nodes get a file fast without melting its origin.
It runs as the damselfly system user (damselfly-supernode.service); the
package creates the cluster token /etc/damselfly/cluster.token the nodes need.")
set(CPACK_COMPONENT_DFGET_DESCRIPTION
    "peer-to-peer file distribution for clusters: dfget and its daemon
dfget URL -O FILE replaces wget on the nodes of a Damselfly cluster: it
downloads pieces in parallel from other nodes and the supernode, verifies
each one and publishes the file only when it is complete and verified. The
daemon (damselfly-dfget.service) serves verified pieces onward; members of
group damselfly may use it. damselfly-join sets the cluster token and
supernodes.")
foreach(component supernode dfget)
  string(TOUPPER ${component} upper)
  set(CPACK_DEBIAN_${upper}_PACKAGE_CONTROL_EXTRA
      ${damselfly_deploy}/debian/${component}/conffiles
      ${damselfly_deploy}/debian/${component}/postinst
      ${damselfly_deploy}/debian/${component}/prerm
      ${damselfly_deploy}/debian/${component}/postrm)
endforeach()
set(CPACK_PACKAGE_DIRECTORY ${CMAKE_BINARY_DIR}/packages)
include(CPack)
