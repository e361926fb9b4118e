# ctest `python_module`: installs this build into a scratch prefix and runs tests/python/test_module.py with
# Debian's /usr/bin/python3 on the module installed there (PYTHONPATH = the prefix's site directory).
#   cmake -DBUILD_DIR=... -DSOURCE_DIR=... -DSCRATCH=... -DSITE_DIR=lib/python3.X/dist-packages -P python_module.cmake
cmake_minimum_required(VERSION 3.20)
file(REMOVE_RECURSE ${SCRATCH})
set(prefix ${SCRATCH}/prefix)
execute_process(COMMAND ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix} OUTPUT_QUIET
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cmake --install failed (${rc})")
endif()
file(GLOB module ${prefix}/${SITE_DIR}/fqvit*.so)
if(NOT module)
  message(FATAL_ERROR "the Python module is not in ${prefix}/${SITE_DIR}")
endif()
set(ENV{PYTHONPATH} ${prefix}/${SITE_DIR})
execute_process(COMMAND /usr/bin/python3 ${SOURCE_DIR}/tests/python/test_module.py --prefix ${prefix}
                        --source ${SOURCE_DIR} --scratch ${SCRATCH}/work
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "test_module.py failed (${rc})")
endif()
