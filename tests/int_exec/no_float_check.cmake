# "No float inside" the integer executor and its kernels (issue 10 item 4), run by ctest:
#  1. no `float` or `double` in their sources and headers (comments stripped: they may say what the floats were);
#  2. no floating-point arithmetic or conversion instruction in their object code (objdump -d): scalar or vector
#     add / sub / mul / div / sqrt / min / max / fmadd / rcp / rsqrt / round / compare on ss / sd / ps / pd / ph, and
#     every cvt* (conversions to or from float; the integer-only cvt forms do not exist on x86, pmovzx/sx are used).
# Usage: cmake -DSOURCES="a;b" -DLIBRARIES="x.a;y.a" -DOBJDUMP=/usr/bin/objdump -P no_float_check.cmake
set(failures "")
foreach(src ${SOURCES})
  file(STRINGS ${src} lines)
  set(n 0)
  foreach(line IN LISTS lines)
    math(EXPR n "${n} + 1")
    string(REGEX REPLACE "//.*$" "" code "${line}")
    if(code MATCHES "(^|[^A-Za-z0-9_])(float|double)([^A-Za-z0-9_]|$)")
      string(APPEND failures "${src}:${n}: ${line}\n")
    endif()
  endforeach()
endforeach()
foreach(lib ${LIBRARIES})
  execute_process(COMMAND ${OBJDUMP} -d --no-show-raw-insn ${lib} OUTPUT_VARIABLE asm RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${OBJDUMP} -d ${lib} failed (${rc})")
  endif()
  string(REGEX MATCHALL
         "[\t ]v?(add|sub|mul|div|sqrt|min|max|fn?m(add|sub)[0-9]*|rcp[0-9]*|rsqrt[0-9]*|round|rndscale|comi|ucomi|cmp)(ss|sd|ps|pd|ph|sh)[ \t][^\n]*|[\t ]v?cvt[a-z0-9]*[ \t][^\n]*"
         hits "${asm}")
  list(LENGTH hits count)
  if(count GREATER 0)
    list(SUBLIST hits 0 5 first)
    string(APPEND failures "${lib}: ${count} floating-point instructions, e.g. ${first}\n")
  endif()
endforeach()
if(failures)
  message(FATAL_ERROR "float inside the integer executor:\n${failures}")
endif()
list(LENGTH SOURCES ns)
list(LENGTH LIBRARIES nl)
message(STATUS "no float: ${ns} sources, ${nl} libraries clean")
