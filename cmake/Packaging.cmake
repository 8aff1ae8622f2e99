# SPDX-License-Identifier: ISC
# Install rules for what is not a compiled target (configuration samples,
# systemd units, documentation) and the CPack DEB settings that turn the
# three install components into three Debian packages:
#   server -> signet-server   agent -> signet-agent   tools -> signet-tools
# Build them with scripts/package.sh (which configures with
# CMAKE_INSTALL_PREFIX=/usr); packaging/README.md says what each holds.

include(GNUInstallDirs)

set(SIGNET_PKG_DIR ${PROJECT_SOURCE_DIR}/packaging)
set(SIGNET_PKG_GEN ${PROJECT_BINARY_DIR}/packaging)
file(MAKE_DIRECTORY ${SIGNET_PKG_GEN})

# Where systemd looks for units shipped by packages. Debian 12 still wants
# them under /lib (lintian: systemd-service-file-outside-lib); any other
# prefix keeps them inside the prefix so that an unprivileged
# `cmake --install` never writes outside it.
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(SIGNET_UNITDIR_DEFAULT /lib/systemd/system)
else()
  set(SIGNET_UNITDIR_DEFAULT ${CMAKE_INSTALL_LIBDIR}/systemd/system)
endif()
set(SIGNET_SYSTEMD_UNITDIR ${SIGNET_UNITDIR_DEFAULT} CACHE PATH
  "Directory for the systemd units")
# With prefix /usr GNUInstallDirs makes this /etc; under /usr/local it is
# /usr/local/etc. The configuration samples name /etc/signet and
# /var/lib/signet*, the paths of the packages.
set(SIGNET_CONFDIR ${CMAKE_INSTALL_FULL_SYSCONFDIR}/signet)

# The units in packaging/systemd name /usr/sbin, /usr/bin and /etc/signet
# (the packages' paths); for another prefix, the copies installed point at
# where the binaries and configuration really went.
set(SIGNET_UNITS
  ${SIGNET_PKG_DIR}/systemd/signet-server.service
  ${SIGNET_PKG_DIR}/systemd/signet-agent.service)
foreach(extra signet-crl-renew.service signet-crl-renew.timer)
  if(EXISTS ${SIGNET_PKG_DIR}/systemd/${extra})
    list(APPEND SIGNET_UNITS ${SIGNET_PKG_DIR}/systemd/${extra})
  endif()
endforeach()
foreach(unit ${SIGNET_UNITS})
  get_filename_component(name ${unit} NAME)
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${unit})
  file(READ ${unit} text)
  string(REPLACE "/usr/sbin/" "${CMAKE_INSTALL_FULL_SBINDIR}/" text "${text}")
  string(REPLACE "/usr/bin/" "${CMAKE_INSTALL_FULL_BINDIR}/" text "${text}")
  string(REPLACE "/etc/signet/" "${SIGNET_CONFDIR}/" text "${text}")
  file(WRITE ${SIGNET_PKG_GEN}/${name} "${text}")
endforeach()

# The server package carries the server's unit and the CRL renewal timer
# (shipped disabled: it needs a PKI on this host); the agent its own.
install(FILES ${SIGNET_PKG_GEN}/signet-server.service
  DESTINATION ${SIGNET_SYSTEMD_UNITDIR} COMPONENT server)
foreach(extra signet-crl-renew.service signet-crl-renew.timer)
  if(EXISTS ${SIGNET_PKG_GEN}/${extra})
    install(FILES ${SIGNET_PKG_GEN}/${extra}
      DESTINATION ${SIGNET_SYSTEMD_UNITDIR} COMPONENT server)
  endif()
endforeach()
install(FILES ${SIGNET_PKG_GEN}/signet-agent.service
  DESTINATION ${SIGNET_SYSTEMD_UNITDIR} COMPONENT agent)

# Samples only: no key, certificate or CRL is ever packaged. Mode 0640; the
# maintainer scripts give them (and /etc/signet) the group "signet" with
# dpkg-statoverride, which survives upgrades.
set(SIGNET_CONF_PERMS OWNER_READ OWNER_WRITE GROUP_READ)
foreach(comp server agent)
  install(DIRECTORY DESTINATION ${SIGNET_CONFDIR} COMPONENT ${comp}
    DIRECTORY_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE
    GROUP_READ GROUP_EXECUTE)
endforeach()
install(FILES ${SIGNET_PKG_DIR}/server.conf DESTINATION ${SIGNET_CONFDIR}
  PERMISSIONS ${SIGNET_CONF_PERMS} COMPONENT server)
install(FILES ${SIGNET_PKG_DIR}/agent.conf DESTINATION ${SIGNET_CONFDIR}
  PERMISSIONS ${SIGNET_CONF_PERMS} COMPONENT agent)
# Settings of signet-crl-renew.service (its timer is shipped disabled).
set(SIGNET_CRL_DEFAULT ${SIGNET_PKG_DIR}/signet-crl-renew.default)
if(EXISTS ${SIGNET_CRL_DEFAULT})
  install(FILES ${SIGNET_CRL_DEFAULT}
    DESTINATION ${CMAKE_INSTALL_FULL_SYSCONFDIR}/default
    RENAME signet-crl-renew COMPONENT server)
endif()
# The most restrictive example is the one an agent starts with: it allows
# a single action, so a freshly installed host refuses nearly everything.
install(FILES ${PROJECT_SOURCE_DIR}/policy/examples/locked-down.json
  DESTINATION ${SIGNET_CONFDIR} RENAME policy.json
  PERMISSIONS ${SIGNET_CONF_PERMS} COMPONENT agent)

# signet-pki is an administrator's tool but needs no privilege (run it as an
# ordinary user, ideally on an offline machine), so it goes to bin/ where
# every user's PATH finds it, next to signetctl, which it calls.
install(PROGRAMS ${PROJECT_SOURCE_DIR}/pki/signet-pki
  DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT tools)
# The shell library it sources, read not run (0644): share/signet/pki/ of
# the same prefix, where the script looks for it (/usr/bin/signet-pki ->
# /usr/share/signet/pki/; "The library" in pki/signet-pki).
install(FILES ${PROJECT_SOURCE_DIR}/pki/lib/common.sh
  ${PROJECT_SOURCE_DIR}/pki/lib/certs.sh
  ${PROJECT_SOURCE_DIR}/pki/lib/bundle.sh
  ${PROJECT_SOURCE_DIR}/pki/lib/protect.sh
  DESTINATION ${CMAKE_INSTALL_DATADIR}/signet/pki COMPONENT tools)

# Documentation: Debian wants copyright and changelog.gz (a native
# package) in /usr/share/doc/PACKAGE of each one.
set(SIGNET_DEB_CHANGELOG ${SIGNET_PKG_GEN}/changelog)
configure_file(${SIGNET_PKG_DIR}/debian/changelog.in ${SIGNET_DEB_CHANGELOG}
  @ONLY)
find_program(SIGNET_GZIP gzip)
if(SIGNET_GZIP)
  # -n: no name or time stamp inside, so the package is reproducible.
  add_custom_command(OUTPUT ${SIGNET_PKG_GEN}/changelog.gz
    COMMAND ${SIGNET_GZIP} -9nc ${SIGNET_DEB_CHANGELOG} >
      ${SIGNET_PKG_GEN}/changelog.gz
    DEPENDS ${SIGNET_DEB_CHANGELOG} VERBATIM)
  add_custom_target(signet_pkg_doc ALL
    DEPENDS ${SIGNET_PKG_GEN}/changelog.gz)
endif()
foreach(comp server agent tools)
  install(FILES ${SIGNET_PKG_DIR}/debian/copyright
    DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/signet-${comp}
    COMPONENT ${comp})
  if(SIGNET_GZIP)
    install(FILES ${SIGNET_PKG_GEN}/changelog.gz
      DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/signet-${comp}
      COMPONENT ${comp})
  endif()
endforeach()
install(FILES ${PROJECT_SOURCE_DIR}/policy/examples/locked-down.json
  ${PROJECT_SOURCE_DIR}/policy/examples/web-tier.json
  ${PROJECT_SOURCE_DIR}/policy/examples/database.json
  ${PROJECT_SOURCE_DIR}/policy/signet-policy.schema.json
  DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/signet-agent/examples
  COMPONENT agent)
# Overrides of lintian tags that do not apply (packaging/README.md says
# why, tag by tag).
foreach(comp server agent tools)
  if(EXISTS ${SIGNET_PKG_DIR}/lintian/signet-${comp})
    install(FILES ${SIGNET_PKG_DIR}/lintian/signet-${comp}
      DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/lintian/overrides
      COMPONENT ${comp})
  endif()
endforeach()

# Man pages: man/CMakeLists.txt installs each page into its component.
get_property(signet_man_added GLOBAL PROPERTY SIGNET_MAN_ADDED)
if(EXISTS ${PROJECT_SOURCE_DIR}/man/CMakeLists.txt AND NOT signet_man_added)
  set_property(GLOBAL PROPERTY SIGNET_MAN_ADDED TRUE)
  add_subdirectory(${PROJECT_SOURCE_DIR}/man ${PROJECT_BINARY_DIR}/man)
endif()

# ---------------------------------------------------------------- CPack DEB
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME signet)
set(CPACK_PACKAGE_VENDOR "signet")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "signet maintainers <signet-maintainers@example.org>"
  CACHE STRING "Maintainer field of the Debian packages")
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_OUTPUT_FILE_PREFIX ${PROJECT_BINARY_DIR}/deb)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL server agent tools)
set(CPACK_COMPONENTS_GROUPING IGNORE)

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
# A native version (no "-1"): the project is its own Debian packaging.
set(CPACK_DEBIAN_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_DEBIAN_PACKAGE_RELEASE "")
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Library dependencies come from dpkg-shlibdeps on the binaries; what is
# run or loaded at run time without being linked is listed by hand below.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS OFF)
# Maintainer scripts 0755, conffiles 0644, whatever the checkout's modes.
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

set(CPACK_DEBIAN_SERVER_PACKAGE_NAME signet-server)
set(CPACK_DEBIAN_AGENT_PACKAGE_NAME signet-agent)
set(CPACK_DEBIAN_TOOLS_PACKAGE_NAME signet-tools)
set(CPACK_DEBIAN_SERVER_PACKAGE_SECTION net)
set(CPACK_DEBIAN_AGENT_PACKAGE_SECTION net)

# adduser and dpkg-statoverride run in the maintainer scripts (dpkg is
# essential, adduser is not).
set(signet_server_depends "adduser")
if(LIBEV_LIBRARY)
  # The hub runs libwebsockets on libev; lws dlopen()s its libev plugin,
  # which dpkg-shlibdeps cannot see.
  string(APPEND signet_server_depends ", libwebsockets-evlib-ev")
endif()
set(CPACK_DEBIAN_SERVER_PACKAGE_DEPENDS "${signet_server_depends}")
set(CPACK_DEBIAN_SERVER_PACKAGE_RECOMMENDS "signet-tools")
set(CPACK_DEBIAN_AGENT_PACKAGE_DEPENDS "adduser")
# The agent drives the local dockerd; Debian's docker.io, or Docker's own
# docker-ce, both create the "docker" group that owns the socket.
set(CPACK_DEBIAN_AGENT_PACKAGE_RECOMMENDS "docker.io | docker-ce")
set(CPACK_DEBIAN_AGENT_PACKAGE_SUGGESTS "signet-tools")
# signet-pki is a shell script around the openssl command.
set(CPACK_DEBIAN_TOOLS_PACKAGE_DEPENDS "openssl")

set(CPACK_COMPONENT_SERVER_DESCRIPTION
"signet relay server: signed container actions over mutual TLS
signet-server relays START, STOP and RESTART requests from operators to the
signet agents on Docker hosts. It signs each action with Ed25519, sends it
over a mutual-TLS WebSocket, and keeps a hash-chained, signed audit log of
who asked, why, and what happened.
.
This package holds the server, its systemd unit (sandboxed, not enabled),
a CRL renewal timer (not enabled) and a sample /etc/signet/server.conf.
It contains no key: make them with signet-pki from signet-tools.")
set(CPACK_COMPONENT_AGENT_DESCRIPTION
"signet agent: verifies and runs signed container actions
signet-agent runs on each Docker host. It keeps a mutual-TLS WebSocket to
the signet server, verifies the Ed25519 signature of every action, checks
the host's own allowlist policy, runs the action against the local dockerd,
and answers with a signed result, keeping its own signed audit log.
.
This package holds the agent, its systemd unit (sandboxed, not enabled;
it reaches the Docker socket through the group docker only), a sample
/etc/signet/agent.conf and a locked-down /etc/signet/policy.json.")
set(CPACK_COMPONENT_TOOLS_DESCRIPTION
"signet operator tools: signetctl and signet-pki
signetctl is the command line of signet's operators and auditors: list
hosts and containers, request actions, read and verify the audit logs
offline, and make Ed25519 keys. signet-pki runs the signet certificate
authority with the openssl command: server, agent, operator and auditor
certificates, revocation, the CRL and per-host enrollment bundles.")

# conffiles: every file a package installs under /etc, written from the
# same destinations as the install rules above.
set(signet_server_conffiles "${SIGNET_CONFDIR}/server.conf\n")
if(EXISTS ${SIGNET_CRL_DEFAULT})
  string(APPEND signet_server_conffiles
    "${CMAKE_INSTALL_FULL_SYSCONFDIR}/default/signet-crl-renew\n")
endif()
file(WRITE ${SIGNET_PKG_GEN}/server/conffiles "${signet_server_conffiles}")
file(WRITE ${SIGNET_PKG_GEN}/agent/conffiles
  "${SIGNET_CONFDIR}/agent.conf\n${SIGNET_CONFDIR}/policy.json\n")

# Maintainer scripts (packaging/debian/<component>/).
foreach(comp server agent tools)
  string(TOUPPER ${comp} COMP)
  set(extra "")
  if(EXISTS ${SIGNET_PKG_GEN}/${comp}/conffiles)
    list(APPEND extra ${SIGNET_PKG_GEN}/${comp}/conffiles)
  endif()
  foreach(f postinst prerm postrm)
    if(EXISTS ${SIGNET_PKG_DIR}/debian/${comp}/${f})
      list(APPEND extra ${SIGNET_PKG_DIR}/debian/${comp}/${f})
    endif()
  endforeach()
  set(CPACK_DEBIAN_${COMP}_PACKAGE_CONTROL_EXTRA "${extra}")
endforeach()

include(CPack)

# signet-pki is a shell script run from the source tree as well as
# installed, so it carries its version in a VERSION= line; it must be the
# project's.
file(STRINGS ${PROJECT_SOURCE_DIR}/pki/signet-pki SIGNET_PKI_VERSION_LINE
  REGEX "^VERSION=")
if(NOT SIGNET_PKI_VERSION_LINE STREQUAL "VERSION=${PROJECT_VERSION}")
  message(FATAL_ERROR "pki/signet-pki says \"${SIGNET_PKI_VERSION_LINE}\" "
    "but the project is ${PROJECT_VERSION}: update its VERSION= line")
endif()

# bash completion for signetctl, where bash-completion looks it up.
install(FILES ${PROJECT_SOURCE_DIR}/cli/completion/signetctl.bash
  DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/bash-completion/completions
  RENAME signetctl COMPONENT tools)
