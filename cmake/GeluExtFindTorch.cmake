# find_package(Torch) for gelu_ext: locates torch through Python when no
# Torch_DIR / CMAKE_PREFIX_PATH says where it is, and prepares what the CUDA
# part of torch's own CMake config needs.
#
# A CUDA-enabled torch (the pip wheels) makes find_package(Torch) enable the
# CUDA language and look for the CUDA toolkit (Caffe2/public/cuda.cmake),
# whether or not gelu_ext builds CUDA code. So, before calling it:
#  - TORCH_CUDA_ARCH_LIST defaults to build_flags.json's (as in setup.py); unset,
#    torch would probe for a GPU to choose the -gencode flags;
#  - CUDA_TOOLKIT_ROOT_DIR / CMAKE_CUDA_COMPILER point at a real toolkit:
#    torch's FindCUDA takes nvcc's grandparent directory, which is wrong for
#    a wrapper script such as /usr/local/bin/nvcc;
#  - CUDA_nvrtc_LIBRARY falls back to the wheel's own libnvrtc
#    (site-packages/nvidia/.../libnvrtc.so.N) when the toolkit has none,
#    which torch's config requires;
#  - policy CMP0104 is OLD: CMAKE_CUDA_ARCHITECTURES stays undefined, since
#    torch ignores it (with a warning) and passes its own -gencode flags.
#
# Sets GELU_EXT_CUDA_ARCHS (the arch list) and GELU_EXT_TORCH_HAS_CUDA.

if(NOT DEFINED ENV{TORCH_CUDA_ARCH_LIST} OR "$ENV{TORCH_CUDA_ARCH_LIST}" STREQUAL "")
  # The default that setup.py uses too (build_flags.json, installed beside
  # this file).
  file(READ "${CMAKE_CURRENT_LIST_DIR}/build_flags.json" _gelu_ext_flags_json)
  string(JSON _gelu_ext_default_archs GET "${_gelu_ext_flags_json}" cuda_arch_list)
  set(ENV{TORCH_CUDA_ARCH_LIST} "${_gelu_ext_default_archs}")
endif()
set(GELU_EXT_CUDA_ARCHS "$ENV{TORCH_CUDA_ARCH_LIST}")

# Torch's CMake prefix, from Python unless the user pointed at it already.
set(_gelu_ext_torch_cmake_dir "")
if(Torch_DIR)
  set(_gelu_ext_torch_cmake_dir "${Torch_DIR}/..")
elseif(DEFINED ENV{Torch_DIR})
  set(_gelu_ext_torch_cmake_dir "$ENV{Torch_DIR}/..")
else()
  find_package(Python3 COMPONENTS Interpreter)
  if(Python3_Interpreter_FOUND)
    execute_process(
      COMMAND "${Python3_EXECUTABLE}" -c "import torch.utils; print(torch.utils.cmake_prefix_path)"
      OUTPUT_VARIABLE _gelu_ext_prefix
      OUTPUT_STRIP_TRAILING_WHITESPACE
      RESULT_VARIABLE _gelu_ext_rc
      ERROR_QUIET)
    if(_gelu_ext_rc EQUAL 0 AND IS_DIRECTORY "${_gelu_ext_prefix}")
      # Appended: a CMAKE_PREFIX_PATH given by the user is searched first.
      list(APPEND CMAKE_PREFIX_PATH "${_gelu_ext_prefix}")
      set(_gelu_ext_torch_cmake_dir "${_gelu_ext_prefix}")
      message(STATUS "gelu_ext: torch from ${Python3_EXECUTABLE}: ${_gelu_ext_prefix}")
    else()
      message(STATUS "gelu_ext: ${Python3_EXECUTABLE} cannot import torch; "
                     "relying on CMAKE_PREFIX_PATH / Torch_DIR")
    endif()
  endif()
endif()

# The CUDA toolkit: CUDA_HOME, CUDA_PATH, nvcc on PATH if it sits in a
# toolkit, /usr/local/cuda.
if(NOT DEFINED CUDA_TOOLKIT_ROOT_DIR)
  find_program(_gelu_ext_nvcc nvcc NO_CACHE)
  set(_gelu_ext_path_root "")
  if(_gelu_ext_nvcc)
    get_filename_component(_gelu_ext_path_root "${_gelu_ext_nvcc}/../.." ABSOLUTE)
  endif()
  foreach(_root "$ENV{CUDA_HOME}" "$ENV{CUDA_PATH}" "${_gelu_ext_path_root}" /usr/local/cuda)
    if(_root AND EXISTS "${_root}/bin/nvcc" AND EXISTS "${_root}/include/cuda_runtime.h")
      set(CUDA_TOOLKIT_ROOT_DIR "${_root}" CACHE PATH "CUDA toolkit for torch's CMake config")
      break()
    endif()
  endforeach()
endif()
if(CUDA_TOOLKIT_ROOT_DIR AND NOT DEFINED CMAKE_CUDA_COMPILER AND NOT DEFINED ENV{CUDACXX})
  set(CMAKE_CUDA_COMPILER "${CUDA_TOOLKIT_ROOT_DIR}/bin/nvcc" CACHE FILEPATH "CUDA compiler")
endif()

if(CUDA_TOOLKIT_ROOT_DIR AND NOT DEFINED CUDA_nvrtc_LIBRARY)
  find_library(_gelu_ext_toolkit_nvrtc nvrtc PATHS "${CUDA_TOOLKIT_ROOT_DIR}"
               PATH_SUFFIXES lib64 lib targets/x86_64-linux/lib NO_DEFAULT_PATH NO_CACHE)
  if(NOT _gelu_ext_toolkit_nvrtc AND _gelu_ext_torch_cmake_dir)
    # <site-packages>/torch/share/cmake -> <site-packages>/nvidia/*/lib
    get_filename_component(_gelu_ext_site "${_gelu_ext_torch_cmake_dir}/../../.." ABSOLUTE)
    file(GLOB _gelu_ext_wheel_nvrtc "${_gelu_ext_site}/nvidia/*/lib/libnvrtc.so.[0-9]*")
    if(_gelu_ext_wheel_nvrtc)
      list(GET _gelu_ext_wheel_nvrtc 0 _gelu_ext_wheel_nvrtc)
      set(CUDA_nvrtc_LIBRARY "${_gelu_ext_wheel_nvrtc}"
          CACHE FILEPATH "libnvrtc (from the CUDA wheels)")
      message(STATUS "gelu_ext: no libnvrtc in ${CUDA_TOOLKIT_ROOT_DIR}; "
                     "using ${CUDA_nvrtc_LIBRARY}")
    endif()
  endif()
endif()

cmake_policy(PUSH)
if(POLICY CMP0104)
  cmake_policy(SET CMP0104 OLD)
endif()
find_package(Torch REQUIRED)
cmake_policy(POP)

if(TARGET torch_cuda)
  set(GELU_EXT_TORCH_HAS_CUDA ON)
else()
  set(GELU_EXT_TORCH_HAS_CUDA OFF)
endif()
