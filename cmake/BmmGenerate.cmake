# BmmGenerate.cmake: bmm_generate_kernels(<target> SHAPES 7x7x5 9x3x4 DTYPES f32 f64
#   LAYOUTS bf sf [ISAS c99 avx2 ...] [ANYSHAPE yes|no] [NAME name] [NO_REGISTER])
# or bmm_generate_kernels(<target> SPEC file.lua [ANYSHAPE yes|no] [NAME name] [NO_REGISTER])
# Generates kernels for those shapes (or that spec file) while <target> builds and compiles
# them into it; their table registers itself with the runtime when the program loads, so plans
# and one-shot calls find them (NO_REGISTER: the program uses the table bmm_table_<name> itself).
# ISAS defaults to every ISA (BMM_VOCAB_ISAS); NAME (the table's, a C identifier) to the target's name, or with
# SPEC to the spec's own. ANYSHAPE: also the shape-generic kernels (8 MB of C for f32 and f64);
# by default only where libbmm lacks its own (built with BMM_DEFAULT_KERNELS=OFF), with SPEC as
# the spec says. The generator runs again only when it, the spec or the arguments
# change. Needs BMMGEN_GENERATOR_DIR (set by bmmgen's CMakeLists.txt or bmmgenConfig.cmake) and
# LuaJIT or Lua 5.4; BMMGEN_HAS_ANYSHAPE says whether libbmm has the shape-generic kernels.
include_guard(GLOBAL)
include(${CMAKE_CURRENT_LIST_DIR}/BmmLua.cmake)
include(${CMAKE_CURRENT_LIST_DIR}/BmmVocab.cmake)

function(bmm_generate_kernels target)
  cmake_parse_arguments(PARSE_ARGV 1 arg "NO_REGISTER" "NAME;SPEC;ANYSHAPE" "SHAPES;DTYPES;LAYOUTS;ISAS")
  set(fn "bmm_generate_kernels(${target})")
  if(arg_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "${fn}: unknown arguments: ${arg_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT TARGET ${target})
    message(FATAL_ERROR "${fn}: no target named ${target}")
  endif()
  get_property(languages GLOBAL PROPERTY ENABLED_LANGUAGES)
  if(NOT "C" IN_LIST languages)
    message(FATAL_ERROR "${fn}: the generated kernels are C: enable C in the project "
      "(project(... LANGUAGES C CXX), or enable_language(C))")
  endif()
  if(arg_SPEC)
    if(arg_SHAPES OR arg_DTYPES OR arg_LAYOUTS OR arg_ISAS)
      message(FATAL_ERROR "${fn}: SPEC names the shapes, dtypes, layouts and ISAs itself")
    endif()
    get_filename_component(arg_SPEC "${arg_SPEC}" ABSOLUTE)
  else()
    foreach(required SHAPES DTYPES LAYOUTS)
      if(NOT arg_${required})
        message(FATAL_ERROR "${fn}: ${required} is required (or SPEC)")
      endif()
    endforeach()
    if(NOT arg_ISAS)
      set(arg_ISAS ${BMM_VOCAB_ISAS})
    endif()
  endif()
  if(DEFINED arg_ANYSHAPE AND NOT arg_ANYSHAPE MATCHES "^(yes|no)$")
    message(FATAL_ERROR "${fn}: ANYSHAPE is yes or no, not '${arg_ANYSHAPE}'")
  elseif(NOT DEFINED arg_ANYSHAPE AND NOT arg_SPEC AND BMMGEN_HAS_ANYSHAPE)
    set(arg_ANYSHAPE no)  # libbmm's own serve every other shape: a copy would only cost
  endif()
  string(MAKE_C_IDENTIFIER "${target}" dir)
  if(arg_NAME)
    set(dir ${arg_NAME})
  elseif(NOT arg_SPEC)
    set(arg_NAME ${dir})
  endif()
  bmm_find_lua(lua)
  if(NOT lua)
    message(FATAL_ERROR "${fn}: the kernel generator needs LuaJIT or Lua 5.4, and neither was "
      "found (Debian: apt-get install luajit, or lua5.4)")
  endif()
  if(NOT BMMGEN_GENERATOR_DIR OR NOT EXISTS "${BMMGEN_GENERATOR_DIR}/bmmgen.lua")
    message(FATAL_ERROR "${fn}: BMMGEN_GENERATOR_DIR (${BMMGEN_GENERATOR_DIR}) has no bmmgen.lua")
  endif()

  set(out ${CMAKE_CURRENT_BINARY_DIR}/bmmgen/${dir})
  set(gen ${lua} ${BMMGEN_GENERATOR_DIR}/bmmgen.lua)
  set(what "${arg_SPEC}")
  if(arg_SPEC)
    list(APPEND gen --spec ${arg_SPEC})
  else()
    foreach(list SHAPES DTYPES LAYOUTS ISAS)
      list(JOIN arg_${list} "," ${list})
    endforeach()
    list(APPEND gen --shapes ${SHAPES} --dtypes ${DTYPES} --layouts ${LAYOUTS} --isas ${ISAS})
    set(what "${SHAPES}; ${DTYPES}; ${LAYOUTS}; ${ISAS}")
  endif()
  if(arg_NAME)
    list(APPEND gen --name ${arg_NAME})
  endif()
  if(DEFINED arg_ANYSHAPE)
    list(APPEND gen --anyshape ${arg_ANYSHAPE})
    set(what "${what}; anyshape ${arg_ANYSHAPE}")
  endif()
  # The file list at configure time (cheap: it stops before any C is emitted); a bad
  # argument stops here with the generator's message naming it.
  execute_process(COMMAND ${gen} --list-files RESULT_VARIABLE rc OUTPUT_VARIABLE listed
    ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${fn}:\n${err}")
  endif()
  string(REGEX REPLACE "\n$" "" listed "${listed}")
  string(REPLACE "\n" ";" listed "${listed}")
  set(outputs "")
  set(sources "")
  foreach(file ${listed})
    list(APPEND outputs ${out}/${file})
    if(file MATCHES "\\.c$")
      list(APPEND sources ${out}/${file})
    endif()
  endforeach()
  file(GLOB deps ${BMMGEN_GENERATOR_DIR}/*.lua ${BMMGEN_GENERATOR_DIR}/../templates/*.in
    ${BMMGEN_GENERATOR_DIR}/../runtime/*.h)
  add_custom_command(OUTPUT ${outputs}
    COMMAND ${gen} --out ${out}
    DEPENDS ${deps} ${arg_SPEC}
    COMMENT "bmmgen: kernels ${dir} (${what})"
    VERBATIM)
  target_sources(${target} PRIVATE ${sources})
  if(NOT arg_NO_REGISTER)
    set_source_files_properties(${sources} PROPERTIES COMPILE_DEFINITIONS BMM_AUTO_REGISTER)
  endif()
  target_include_directories(${target} PRIVATE ${out}
    $<TARGET_PROPERTY:bmmgen::bmm,INTERFACE_INCLUDE_DIRECTORIES>)
endfunction()
