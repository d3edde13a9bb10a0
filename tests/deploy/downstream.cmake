# cmake -P downstream.cmake: install the gelu_ext build tree into a prefix,
# then build two projects against that prefix alone, as a user would:
# tests/deploy/downstream (tiny apps) and examples/cpp_inference
# (standalone), and run them.
#   -DBUILD_DIR=   gelu_ext's CMake build tree (built)
#   -DSOURCE_DIR=  gelu_ext's source tree
#   -DWORK_DIR=    scratch directory (recreated)
#   -DGENERATOR=   CMake generator for the downstream builds
#   -DPYTHON=      Python with torch (how the package finds Torch); optional
#   -DMODEL=       a TorchScript model for gelu_ext_infer, and
#   -DMODEL_INPUT= -DMODEL_EXPECTED=  its input and expected output
#   -DPACKAGE=     an AOTI package, and
#   -DPACKAGE_INPUT= -DPACKAGE_EXPECTED=  its input and expected output
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    list(JOIN ARGN " " cmd)
    message(FATAL_ERROR "failed (${rc}): ${cmd}")
  endif()
endfunction()

file(REMOVE_RECURSE "${WORK_DIR}")
set(prefix "${WORK_DIR}/prefix")
run("${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${prefix}")

set(configure_args -G "${GENERATOR}" -DCMAKE_BUILD_TYPE=Release "-DCMAKE_PREFIX_PATH=${prefix}")
if(PYTHON)
  list(APPEND configure_args "-DPython3_EXECUTABLE=${PYTHON}")
endif()

run("${CMAKE_COMMAND}" -S "${SOURCE_DIR}/tests/deploy/downstream" -B "${WORK_DIR}/app" ${configure_args})
run("${CMAKE_COMMAND}" --build "${WORK_DIR}/app")
run("${WORK_DIR}/app/dispatcher_only")
run("${WORK_DIR}/app/uses_api")
run("${WORK_DIR}/app/runs_aoti_package" "${PACKAGE}" "${PACKAGE_INPUT}" "${PACKAGE_EXPECTED}")

run("${CMAKE_COMMAND}" -S "${SOURCE_DIR}/examples/cpp_inference" -B "${WORK_DIR}/infer" ${configure_args})
run("${CMAKE_COMMAND}" --build "${WORK_DIR}/infer")
run("${WORK_DIR}/infer/gelu_ext_infer" "${MODEL}" --input "${MODEL_INPUT}"
    --expected "${MODEL_EXPECTED}" --runs 2)
run("${WORK_DIR}/infer/gelu_ext_infer" "${PACKAGE}" --input "${PACKAGE_INPUT}"
    --expected "${PACKAGE_EXPECTED}" --runs 2)
# The installed copy of the example, too.
run("${prefix}/bin/gelu_ext_infer" "${MODEL}" --runs 2)
run("${prefix}/bin/gelu_ext_infer" "${PACKAGE}" --runs 2)
