# Fixture set-up for the end-to-end tests that run Node programs (webhook_node/, web_node/),
# run by ctest, not at configure time: copies the folder's package.json, lock file and
# programs into the build tree and installs the locked dependencies there with `npm ci`,
# so the source tree stays clean. Skips npm when the installed lock file is the committed
# one. Fails loudly when Node or npm is missing: these tests are not optional.
#
#   cmake -DNODE=... -DNPM=... -DSRC=tests/e2e/web_node -DDEST=build/web_node
#         -DMARKER=playwright-core -P npm_ci.cmake
# MARKER is a package whose presence in node_modules shows an earlier install finished.
get_filename_component(name "${SRC}" NAME)
foreach(tool NODE NPM)
  if(NOT ${tool} OR ${tool} MATCHES "NOTFOUND$" OR NOT EXISTS "${${tool}}")
    message(FATAL_ERROR
      "${tool} not found (got '${${tool}}'): the tests in ${name} run on Node.js with npm "
      "packages. Install Node.js and npm (scripts/install-deps.sh does: apt-get install "
      "nodejs npm), then re-run cmake.")
  endif()
endforeach()

file(MAKE_DIRECTORY "${DEST}")
file(GLOB programs "${SRC}/*.js")
file(COPY "${SRC}/package.json" "${SRC}/package-lock.json" ${programs} DESTINATION "${DEST}")

file(SHA256 "${SRC}/package-lock.json" lock_hash)
set(stamp "${DEST}/node_modules/.imgbatch-lock-sha256")
if(EXISTS "${stamp}" AND EXISTS "${DEST}/node_modules/${MARKER}/package.json")
  file(READ "${stamp}" installed_hash)
  if(installed_hash STREQUAL lock_hash)
    message(STATUS "${name}: dependencies already installed in ${DEST}")
    return()
  endif()
endif()

execute_process(COMMAND "${NPM}" ci --no-audit --no-fund
                WORKING_DIRECTORY "${DEST}" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "npm ci in ${DEST} failed (exit ${rc}); see its output above")
endif()
file(WRITE "${stamp}" "${lock_hash}")
message(STATUS "${name}: installed the test dependencies into ${DEST}/node_modules")
