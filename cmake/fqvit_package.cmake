# The installable package: libfqvit.so (the public API of include/fqvit/fqvit.h over all of fqvit's static
# libraries), its public headers, the CLIs, a CMake package config (find_package(fqvit CONFIG) -> fqvit::fqvit) and
# a pkg-config file (fqvit.pc).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

# The shared library compiles the API sources again (fqvit_api is the static form that tests and the Python module
# link); the libraries below it are static and position-independent, so it carries them and users link only it.
file(GLOB fqvit_api_sources CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/src/api/*.cc)
add_library(fqvit SHARED ${fqvit_api_sources})
target_include_directories(fqvit PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
                                        $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>
                                 PRIVATE ${PROJECT_SOURCE_DIR}/src)
target_compile_options(fqvit PRIVATE ${FQVIT_WARNINGS} ${FQVIT_ARCH_FLAGS})
target_compile_features(fqvit INTERFACE cxx_std_20)  # the header uses std::span
target_link_libraries(fqvit PRIVATE fqvit_eval)
# Only the API's own symbols are exported: the static libraries inside stay private to the library, so they cannot
# clash with a host program's symbols.
target_link_options(fqvit PRIVATE -Wl,--exclude-libs,ALL)
set_target_properties(fqvit PROPERTIES VERSION ${PROJECT_VERSION} SOVERSION ${PROJECT_VERSION_MAJOR}
                                       EXPORT_NAME fqvit)
add_library(fqvit::fqvit ALIAS fqvit)

install(TARGETS fqvit EXPORT fqvitTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
# The public headers: the API and the error type it throws (the other headers are internal).
install(FILES ${PROJECT_SOURCE_DIR}/include/fqvit/fqvit.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/fqvit)
install(FILES ${PROJECT_SOURCE_DIR}/include/fqvit/core/error.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/fqvit/core)
install(TARGETS ${FQVIT_TOOLS} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

set(fqvit_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/fqvit)
install(EXPORT fqvitTargets NAMESPACE fqvit:: FILE fqvitTargets.cmake DESTINATION ${fqvit_cmake_dir})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/fqvitConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/fqvitConfig.cmake INSTALL_DESTINATION ${fqvit_cmake_dir})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/fqvitConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/fqvitConfig.cmake ${PROJECT_BINARY_DIR}/fqvitConfigVersion.cmake
        DESTINATION ${fqvit_cmake_dir})

# pkg-config: paths relative to where fqvit.pc is found (${pcfiledir}), so `cmake --install --prefix` anywhere works.
file(RELATIVE_PATH fqvit_pc_to_prefix /prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig /prefix)
string(REGEX REPLACE "/$" "" fqvit_pc_to_prefix "${fqvit_pc_to_prefix}")
configure_file(${PROJECT_SOURCE_DIR}/cmake/fqvit.pc.in ${PROJECT_BINARY_DIR}/fqvit.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/fqvit.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
