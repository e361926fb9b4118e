# ctest `install_package`: installs this build into a scratch prefix, then uses only that prefix as a user would:
# the installed fqvit-calibrate makes a quantized file, examples/ is configured with find_package(fqvit CONFIG) and
# built, `classify` prints the top-5 with names; the same example is built again through pkg-config alone.
#   cmake -DBUILD_DIR=... -DSOURCE_DIR=... -DSCRATCH=... -P install_and_use.cmake
cmake_minimum_required(VERSION 3.20)

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  set(run_output "${out}" PARENT_SCOPE)
endfunction()

file(REMOVE_RECURSE ${SCRATCH})
set(prefix ${SCRATCH}/prefix)
run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})

# What the prefix must hold (libdir is lib or lib/<multiarch>, as GNUInstallDirs chose).
file(GLOB_RECURSE config_file ${prefix}/*/fqvitConfig.cmake)
file(GLOB_RECURSE pc_file ${prefix}/*/pkgconfig/fqvit.pc)
file(GLOB_RECURSE shared_lib ${prefix}/*/libfqvit.so)
foreach(path ${prefix}/include/fqvit/fqvit.h ${prefix}/include/fqvit/core/error.h ${prefix}/bin/fqvit-eval
             ${prefix}/bin/fqvit-calibrate "${config_file}" "${pc_file}" "${shared_lib}")
  if(path STREQUAL "" OR NOT EXISTS "${path}")
    message(FATAL_ERROR "not installed: '${path}' (prefix ${prefix})")
  endif()
endforeach()

# A quantized model from the installed CLI: the committed small ViT calibrated on the committed test images.
file(GLOB images ${SOURCE_DIR}/tests/data/images/*.jpg ${SOURCE_DIR}/tests/data/images/*.png)
file(COPY ${images} DESTINATION ${SCRATCH}/calib/all)
set(model ${SCRATCH}/vit.w8a8attn4.safetensors)
run(${prefix}/bin/fqvit-calibrate --model ${SOURCE_DIR}/tests/data/models/vit_small_random_committed
    --calib ${SCRATCH}/calib --batch-size 8 --threads 1 --out ${model})
set(classes "")
foreach(c RANGE 9)
  string(APPEND classes "${c} w${c} class number ${c}\n")
endforeach()
file(WRITE ${SCRATCH}/classes.txt "${classes}")
set(image ${SOURCE_DIR}/tests/data/images/rgb422_45x29.jpg)

function(check_top5 output what)
  string(REGEX MATCHALL "class number [0-9]" names "${output}")
  list(LENGTH names count)
  if(NOT count EQUAL 5 OR NOT output MATCHES "vit_test_tiny")
    message(FATAL_ERROR "${what}: expected the architecture and 5 named classes, got:\n${output}")
  endif()
endfunction()

# 1. CMake: find_package(fqvit CONFIG) from the prefix only.
run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/examples -B ${SCRATCH}/example -G Ninja -DCMAKE_BUILD_TYPE=Release
    -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)
run(${CMAKE_COMMAND} --build ${SCRATCH}/example)
run(${SCRATCH}/example/classify ${model} ${image} ${SCRATCH}/classes.txt)
check_top5("${run_output}" "find_package build")
set(cmake_output "${run_output}")

# 2. pkg-config: the flags it gives are enough to build and link the same example.
get_filename_component(pc_dir ${pc_file} DIRECTORY)
set(ENV{PKG_CONFIG_PATH} ${pc_dir})
run(pkg-config --cflags --libs fqvit)
string(STRIP "${run_output}" flags)
separate_arguments(flags UNIX_COMMAND "${flags}")
run(c++ -std=c++20 ${SOURCE_DIR}/examples/classify.cc ${flags} -o ${SCRATCH}/classify_pc)
get_filename_component(lib_dir ${shared_lib} DIRECTORY)
set(ENV{LD_LIBRARY_PATH} ${lib_dir})
run(${SCRATCH}/classify_pc ${model} ${image} ${SCRATCH}/classes.txt)
if(NOT run_output STREQUAL cmake_output)
  message(FATAL_ERROR "pkg-config build printed\n${run_output}\nthe CMake build printed\n${cmake_output}")
endif()

# 3. Bad input through the installed library: one error line, exit status 1.
execute_process(COMMAND ${SCRATCH}/example/classify ${SCRATCH}/missing.safetensors ${image}
                RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 1 OR NOT err MATCHES "missing.safetensors: model: found nothing")
  message(FATAL_ERROR "a missing model: exit ${rc}, stderr: ${err}")
endif()
message(STATUS "installed package OK:\n${cmake_output}")
