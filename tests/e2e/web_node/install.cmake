# The fixture set-up of the dashboard and OpenAPI tests, run by ctest (not at configure
# time): copies the Node programs into the build tree and installs their locked
# dependencies there with `npm ci` (playwright-core, ajv, ajv-formats, yaml,
# @seriousme/openapi-schema-validator), so the source tree stays clean. Skips npm when the
# installed lock file is the committed one. Fails loudly when Node or npm is missing:
# these tests are not optional. The browser is Debian's chromium (scripts/install-deps.sh);
# playwright-core downloads none.
#
#   cmake -DNODE=... -DNPM=... -DSRC=tests/e2e/web_node -DDEST=build/web_node -P install.cmake
foreach(tool NODE NPM)
  if(NOT ${tool} OR ${tool} MATCHES "NOTFOUND$" OR NOT EXISTS "${${tool}}")
    message(FATAL_ERROR
      "${tool} not found (got '${${tool}}'): the dashboard and OpenAPI tests run on Node.js "
      "with npm packages. Install Node.js and npm (scripts/install-deps.sh does: apt-get "
      "install nodejs npm), then re-run cmake.")
  endif()
endforeach()

file(MAKE_DIRECTORY "${DEST}")
file(GLOB programs "${SRC}/*.js")
file(COPY "${SRC}/package.json" "${SRC}/package-lock.json" ${programs} DESTINATION "${DEST}")

file(SHA256 "${SRC}/package-lock.json" lock_hash)
set(stamp "${DEST}/node_modules/.imgbatch-lock-sha256")
if(EXISTS "${stamp}" AND EXISTS "${DEST}/node_modules/playwright-core/package.json")
  file(READ "${stamp}" installed_hash)
  if(installed_hash STREQUAL lock_hash)
    message(STATUS "web_node: dependencies already installed in ${DEST}")
    return()
  endif()
endif()

execute_process(COMMAND "${NPM}" ci --no-audit --no-fund
                WORKING_DIRECTORY "${DEST}" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "npm ci in ${DEST} failed (exit ${rc}); see its output above")
endif()
file(WRITE "${stamp}" "${lock_hash}")
message(STATUS "web_node: installed the test dependencies into ${DEST}/node_modules")
