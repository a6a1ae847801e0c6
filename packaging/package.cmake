# `make package`: a Debian package of the imgbatch binary, its systemd unit, the settings
# file it reads and the docs (docs/operations.md, "Running under systemd"). Installed
# under /usr; /etc/default/imgbatch is a conffile, so an upgrade keeps local edits.
include(GNUInstallDirs)
# `cpack` and `cmake --install` need only the binary, not every test target.
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY ON)

install(TARGETS imgbatch RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES ${PROJECT_SOURCE_DIR}/packaging/imgbatch.service
        DESTINATION lib/systemd/system)
install(FILES ${PROJECT_SOURCE_DIR}/packaging/imgbatch.default
        DESTINATION /etc/default RENAME imgbatch)
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/docs/API.md
              ${PROJECT_SOURCE_DIR}/docs/configuration.md ${PROJECT_SOURCE_DIR}/docs/operations.md
              ${PROJECT_SOURCE_DIR}/docs/webhooks.md ${PROJECT_SOURCE_DIR}/docs/openapi.yaml
        DESTINATION ${CMAKE_INSTALL_DOCDIR})

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME imgbatch)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "imgbatch maintainers <imgbatch@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "batch image compression service with an HTTP API")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "Takes a CSV of products and image URLs, downloads and compresses every image,\n\
stores the results and tracks progress in SQLite or PostgreSQL; notifies a webhook\n\
when a request is done. Runs as the systemd service imgbatch.service.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_PACKAGE_SECTION web)
# The shared libraries the binary links decide the dependencies (dpkg-shlibdeps).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${PROJECT_SOURCE_DIR}/packaging/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
