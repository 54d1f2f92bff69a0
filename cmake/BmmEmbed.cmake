# BmmEmbed.cmake: what generation on demand needs inside libbmm.

# The Lua library to embed: Lua 5.4's (Debian: liblua5.4-dev), else LuaJIT's
# (libluajit-5.1-dev); BMM_EMBED_LUA=lua5.4|luajit picks one. Sets include dir and library, or
# both empty (then the library is built without generation on demand, and BMM_GENERATE falls
# back with a note). Both give the same files (generator/ runs the same under both).
set(BMM_EMBED_LUA "auto" CACHE STRING "Lua library embedded for generation on demand: auto, lua5.4 or luajit")
function(bmm_find_lua_library inc lib)
  set(mods lua5.4 lua-5.4 luajit)
  if(NOT BMM_EMBED_LUA STREQUAL "auto")
    set(mods ${BMM_EMBED_LUA})
  endif()
  find_package(PkgConfig QUIET)
  if(PkgConfig_FOUND)
    foreach(mod ${mods})
      pkg_check_modules(BMM_PC_${mod} QUIET ${mod})
      if(BMM_PC_${mod}_FOUND)
        find_library(BMM_LUA_LIB_${mod} NAMES ${BMM_PC_${mod}_LIBRARIES}
          HINTS ${BMM_PC_${mod}_LIBRARY_DIRS})
        if(BMM_LUA_LIB_${mod})
          message(STATUS "bmmgen: generation on demand embeds ${mod} ${BMM_PC_${mod}_VERSION}")
          set(${inc} ${BMM_PC_${mod}_INCLUDE_DIRS} PARENT_SCOPE)
          set(${lib} ${BMM_LUA_LIB_${mod}} PARENT_SCOPE)
          return()
        endif()
      endif()
    endforeach()
  endif()
  message(STATUS "bmmgen: no Lua library (liblua5.4-dev or libluajit-5.1-dev): "
    "no generation on demand")
  set(${inc} "" PARENT_SCOPE)
  set(${lib} "" PARENT_SCOPE)
endfunction()

# out: a C file holding the generator's modules, its templates and the runtime headers
# generated kernels include, remade when any of them changes.
function(bmm_embed out)
  set(base ${PROJECT_SOURCE_DIR})
  file(GLOB modules CONFIGURE_DEPENDS RELATIVE ${base} ${base}/generator/*.lua)
  file(GLOB templates CONFIGURE_DEPENDS RELATIVE ${base} ${base}/templates/*.in)
  set(files ${modules} ${templates} runtime/bmm.h runtime/bmm_vocab.h runtime/bmm_kernel.h
    runtime/bmm_simd.h)
  list(TRANSFORM files PREPEND ${base}/ OUTPUT_VARIABLE deps)
  string(REPLACE ";" "\n" list "${files}")
  file(WRITE ${out}.files "${list}\n")  # one path a line: a command line would split them
  add_custom_command(OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DOUT=${out} -DBASE=${base} -DLIST=${out}.files
      -P ${PROJECT_SOURCE_DIR}/cmake/embed.cmake
    DEPENDS ${deps} ${out}.files ${PROJECT_SOURCE_DIR}/cmake/embed.cmake
    COMMENT "Embedding the generator for generation on demand" VERBATIM)
endfunction()
