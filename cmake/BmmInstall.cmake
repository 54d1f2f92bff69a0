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
install(TARGETS bmm-tune bmm-wisdom RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(EXPORT bmmgenTargets NAMESPACE bmmgen:: DESTINATION ${BMM_CMAKE_DIR})

install(DIRECTORY generator/ DESTINATION ${BMM_SHARE_DIR}/generator FILES_MATCHING PATTERN "*.lua")
install(DIRECTORY templates/ DESTINATION ${BMM_SHARE_DIR}/templates FILES_MATCHING PATTERN "*.in")
install(FILES runtime/bmm.h runtime/bmm_vocab.h runtime/bmm_kernel.h runtime/bmm_simd.h runtime/bmm_select.h
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
  cmake/BmmGenerate.cmake cmake/BmmLua.cmake cmake/BmmVocab.cmake
  DESTINATION ${BMM_CMAKE_DIR})

# Relocatable: the prefix is found from where bmm.pc is (install --prefix may move it).
file(RELATIVE_PATH BMM_PC_TO_PREFIX /root/${CMAKE_INSTALL_LIBDIR}/pkgconfig /root)
string(REGEX REPLACE "/$" "" BMM_PC_TO_PREFIX "${BMM_PC_TO_PREFIX}")
if(OpenMP_C_FOUND)
  set(BMM_PC_OPENMP ${OpenMP_C_FLAGS})  # GCC: -fopenmp, which links libgomp
endif()
set(BMM_PC_EXTRA "")  # generation on demand: dlopen, and the embedded Lua
if(CMAKE_DL_LIBS)
  set(BMM_PC_EXTRA -l${CMAKE_DL_LIBS})
endif()
if(BMM_LUA_LIBRARY)
  get_filename_component(lua_name ${BMM_LUA_LIBRARY} NAME)
  string(REGEX REPLACE "^lib(.*)\\.(so|a|dylib).*$" "-l\\1" lua_flag "${lua_name}")
  string(APPEND BMM_PC_EXTRA " ${lua_flag}")
endif()
configure_file(cmake/bmm.pc.in ${CMAKE_CURRENT_BINARY_DIR}/bmm.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/bmm.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
install(FILES LICENSE README.md DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/bmmgen)
install(DIRECTORY docs/ DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/bmmgen/docs
  FILES_MATCHING PATTERN "*.md")

# Manual pages, rendered from their one source (docs/man/*.md, read on the web as they are) by
# go-md2man at build time; without it they are left out, and said so.
find_program(BMM_GO_MD2MAN go-md2man)
set(BMM_MAN_PAGES bmm-tune.1 bmm-wisdom.1 bmm.3 bmm.7)
if(BMM_GO_MD2MAN)
  set(pages)
  foreach(page ${BMM_MAN_PAGES})
    string(REGEX REPLACE ".*\\.([0-9])$" "\\1" section ${page})
    set(out ${CMAKE_CURRENT_BINARY_DIR}/man/${page})
    add_custom_command(OUTPUT ${out}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_CURRENT_BINARY_DIR}/man
      COMMAND ${BMM_GO_MD2MAN} -in ${CMAKE_CURRENT_SOURCE_DIR}/docs/man/${page}.md -out ${out}
      DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/docs/man/${page}.md
      COMMENT "Rendering the manual page ${page}" VERBATIM)
    install(FILES ${out} DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section})
    list(APPEND pages ${out})
  endforeach()
  add_custom_target(bmm_man_pages ALL DEPENDS ${pages})
else()
  message(STATUS "go-md2man not found: manual pages not built (Debian: apt-get install go-md2man)")
endif()

# The Python package (python/bmmgen), where this prefix's Python looks for packages (asked of
# the interpreter: Debian's /usr/bin/python3 by default), with _install.py naming libbmm.so
# relative to the package, so that the installed tree can move. An install whose package
# directory that Python does not search prints the PYTHONPATH line to use.
find_program(BMM_PYTHON NAMES python3 PATHS /usr/bin NO_DEFAULT_PATH)
find_program(BMM_PYTHON NAMES python3)
if(BMM_PYTHON)
  execute_process(COMMAND ${BMM_PYTHON} -c [=[
import os, sys
prefix = os.path.realpath(sys.argv[1])
for p in sys.path:
    if p.startswith(prefix + "/") and p.endswith(("site-packages", "dist-packages")):
        print(os.path.relpath(p, prefix)); break
else:
    print("lib/python%d.%d/site-packages" % sys.version_info[:2])
]=] ${CMAKE_INSTALL_PREFIX} OUTPUT_VARIABLE bmm_python_dir OUTPUT_STRIP_TRAILING_WHITESPACE)
endif()
if(NOT bmm_python_dir)
  set(bmm_python_dir lib/python3/dist-packages)
endif()
set(BMM_PYTHON_INSTALL_DIR ${bmm_python_dir} CACHE STRING
  "Where the Python package bmmgen goes, relative to the install prefix")
file(RELATIVE_PATH bmm_pkg_to_lib /root/${BMM_PYTHON_INSTALL_DIR}/bmmgen
  /root/${CMAKE_INSTALL_LIBDIR}/libbmm.so.${PROJECT_VERSION_MAJOR})
file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/python/_install.py
  "# Written by cmake --install: libbmm.so relative to this package.\nLIBRARY = \"${bmm_pkg_to_lib}\"\n")
install(DIRECTORY python/bmmgen DESTINATION ${BMM_PYTHON_INSTALL_DIR} FILES_MATCHING PATTERN "*.py"
  PATTERN "__pycache__" EXCLUDE)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/python/_install.py
  DESTINATION ${BMM_PYTHON_INSTALL_DIR}/bmmgen)
if(BMM_PYTHON)
  install(CODE "
    set(dir \"\${CMAKE_INSTALL_PREFIX}/${BMM_PYTHON_INSTALL_DIR}\")
    execute_process(COMMAND ${BMM_PYTHON} -c \"import os, sys; sys.exit(os.path.realpath(sys.argv[1]) not in map(os.path.realpath, sys.path))\" \"\${dir}\"
      RESULT_VARIABLE off_path)
    if(off_path)
      message(STATUS \"bmmgen: ${BMM_PYTHON} does not search \${dir}; to import bmmgen: export PYTHONPATH=\${dir}\")
    endif()")
endif()
