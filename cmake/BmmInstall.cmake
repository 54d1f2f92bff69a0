# BmmInstall.cmake: what `cmake --install` puts where. Headers, libbmm.a and libbmm.so,
# bmm-tune; the generator, its templates and the runtime headers it pastes into vendored files
# or reads its version from (share/bmmgen); the CMake package bmmgen (targets bmmgen::bmm,
# bmmgen::bmm_static, and bmm_generate_kernels()) and bmm.pc for pkg-config.
include(CMakePackageConfigHelpers)
set(BMM_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/bmmgen)
set(BMM_SHARE_DIR ${CMAKE_INSTALL_DATADIR}/bmmgen)

install(TARGETS bmm_static bmm_shared EXPORT bmmgenTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  PUBLIC_HEADER DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS bmm-tune RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(EXPORT bmmgenTargets NAMESPACE bmmgen:: DESTINATION ${BMM_CMAKE_DIR})

install(DIRECTORY generator/ DESTINATION ${BMM_SHARE_DIR}/generator FILES_MATCHING PATTERN "*.lua")
install(DIRECTORY templates/ DESTINATION ${BMM_SHARE_DIR}/templates FILES_MATCHING PATTERN "*.in")
install(FILES runtime/bmm.h runtime/bmm_kernel.h runtime/bmm_simd.h runtime/bmm_select.h
  runtime/bmm_generic.h
  DESTINATION ${BMM_SHARE_DIR}/runtime)

configure_package_config_file(cmake/bmmgenConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/bmmgenConfig.cmake
  INSTALL_DESTINATION ${BMM_CMAKE_DIR}
  PATH_VARS BMM_SHARE_DIR)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/bmmgenConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)  # 0.x: a minor release may change the kernel ABI
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/bmmgenConfig.cmake
  ${CMAKE_CURRENT_BINARY_DIR}/bmmgenConfigVersion.cmake
  cmake/BmmGenerate.cmake cmake/BmmLua.cmake
  DESTINATION ${BMM_CMAKE_DIR})

# Relocatable: the prefix is found from where bmm.pc is (install --prefix may move it).
file(RELATIVE_PATH BMM_PC_TO_PREFIX /root/${CMAKE_INSTALL_LIBDIR}/pkgconfig /root)
string(REGEX REPLACE "/$" "" BMM_PC_TO_PREFIX "${BMM_PC_TO_PREFIX}")
configure_file(cmake/bmm.pc.in ${CMAKE_CURRENT_BINARY_DIR}/bmm.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/bmm.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
install(FILES LICENSE DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/bmmgen)
