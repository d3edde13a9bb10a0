# cmake -P expect.cmake: run a command and check its exit status and output.
#   -DCOMMAND="prog|arg|..."        the command, arguments separated by "|"
#   -DRC=0|nonzero                  the exit status wanted
#   -DREGEX=...                     must match stdout+stderr
#   -DALT_RC=... -DALT_REGEX=...    optional second acceptable outcome (e.g.
#                                   "fails clearly without a GPU" / "works with one")
string(REPLACE "|" ";" COMMAND "${COMMAND}")
execute_process(COMMAND ${COMMAND} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
set(text "${out}${err}")
message("${text}")

function(_matches want_rc regex result)
  set(ok FALSE)
  if(text MATCHES "${regex}")
    if((want_rc STREQUAL "0" AND rc STREQUAL "0") OR
       (want_rc STREQUAL "nonzero" AND NOT rc STREQUAL "0"))
      set(ok TRUE)
    endif()
  endif()
  set(${result} ${ok} PARENT_SCOPE)
endfunction()

_matches("${RC}" "${REGEX}" ok)
if(NOT ok AND DEFINED ALT_REGEX)
  _matches("${ALT_RC}" "${ALT_REGEX}" ok)
endif()
if(NOT ok)
  message(FATAL_ERROR "exit status ${rc}; wanted ${RC} and output matching '${REGEX}'"
                      "${ALT_REGEX}")
endif()
