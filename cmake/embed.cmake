# embed.cmake: cmake -DOUT=file.c -DBASE=dir -DLIST=paths.txt -P embed.cmake writes a C file
# that holds each file named in LIST (one path a line, relative to BASE) as bytes: the generator, its templates and the runtime
# headers the generated kernels include, compiled into libbmm for generation on demand.
file(STRINGS ${LIST} FILES)
set(body "")
set(rows "")
set(i 0)
foreach(rel IN LISTS FILES)
  file(READ ${BASE}/${rel} hex HEX)
  string(LENGTH "${hex}" len)
  math(EXPR len "${len} / 2")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," hex "${hex}")
  string(REGEX REPLACE "((0x..,){24})" "\\1\n" hex "${hex}")
  string(APPEND body "static const unsigned char f${i}[] = {\n${hex}0x00\n};\n")
  string(APPEND rows "    { \"${rel}\", f${i}, ${len} },\n")
  math(EXPR i "${i} + 1")
endforeach()
file(WRITE ${OUT}.tmp "/* Made by cmake/embed.cmake from bmmgen's sources while building: do not edit. */
#include \"bmm_internal.h\"

${body}
const bmm__embedded_file bmm__embedded_files[] = {
${rows}};
const size_t bmm__embedded_count = ${i};
")
file(RENAME ${OUT}.tmp ${OUT})
