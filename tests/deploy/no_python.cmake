# cmake -P no_python.cmake: neither a program nor the compiled model of an
# AOTI package it runs depends on Python (libpython, libtorch_python).
#   -DPROGRAM=  the executable
#   -DPACKAGE=  an AOTI package (.pt2); its model library is extracted
#   -DWORK_DIR= scratch directory (recreated)
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")
file(ARCHIVE_EXTRACT INPUT "${PACKAGE}" DESTINATION "${WORK_DIR}")
file(GLOB_RECURSE model_libs "${WORK_DIR}/*.so")
if(NOT model_libs)
  message(FATAL_ERROR "no compiled model library (.so) in ${PACKAGE}")
endif()
foreach(binary "${PROGRAM}" ${model_libs})
  execute_process(COMMAND ldd "${binary}" RESULT_VARIABLE rc OUTPUT_VARIABLE deps)
  # ldd must have listed LibTorch: otherwise the check below proves nothing.
  if(NOT rc EQUAL 0 OR NOT deps MATCHES "libtorch_cpu\\.so")
    message(FATAL_ERROR "ldd ${binary} failed or does not list libtorch_cpu:\n${deps}")
  endif()
  if(deps MATCHES "(libpython[0-9.]*\\.so|libtorch_python\\.so)")
    message(FATAL_ERROR "${binary} depends on ${CMAKE_MATCH_1}:\n${deps}")
  endif()
  message("${binary}: no libpython, no libtorch_python")
endforeach()
