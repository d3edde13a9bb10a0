"""Build gelu_ext: the op library (no Python dependency) and the pybind11
module with its build facts. CMakeLists.txt compiles the same sources (both
glob csrc/ and cuda/) with the same flags (both read cmake/build_flags.json).

Environment switches:
  GELU_EXT_CUDA=1|0   force the CUDA kernels on or off (default: on when nvcc
                      and a CUDA-enabled torch are both present)
  TORCH_CUDA_ARCH_LIST  CUDA architectures (default "9.0+PTX")
"""
import glob
import json
import os
import shutil


def _cuda_home_with_headers():
    """torch guesses CUDA_HOME from `which nvcc`; where nvcc is a wrapper
    script outside the toolkit that guess lacks the headers. Prefer an
    explicit CUDA_HOME/CUDA_PATH, else torch's own default location."""
    if os.environ.get("CUDA_HOME") or os.environ.get("CUDA_PATH"):
        return
    nvcc = shutil.which("nvcc")
    guess = os.path.dirname(os.path.dirname(os.path.realpath(nvcc))) if nvcc else None
    default = "/usr/local/cuda"
    if guess and not os.path.exists(os.path.join(guess, "include", "cuda_runtime.h")):
        if os.path.exists(os.path.join(default, "include", "cuda_runtime.h")):
            os.environ["CUDA_HOME"] = default


_cuda_home_with_headers()

import torch  # noqa: E402
from setuptools import setup  # noqa: E402
from torch.utils import cpp_extension  # noqa: E402

ROOT = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(ROOT, "VERSION")) as f:
    VERSION = f.read().strip()


def rel(paths):
    return sorted(os.path.relpath(p, ROOT) for p in paths)


def want_cuda():
    flag = os.environ.get("GELU_EXT_CUDA", "auto").lower()
    if flag in ("0", "off", "false", "no"):
        return False
    have = torch.version.cuda is not None and cpp_extension.CUDA_HOME is not None
    if flag in ("1", "on", "true", "yes"):
        if not have:
            raise RuntimeError("GELU_EXT_CUDA=1 but nvcc or a CUDA-enabled torch is missing")
        return True
    return have


# The flags and the default CUDA architectures, shared with CMakeLists.txt.
with open(os.path.join(ROOT, "cmake", "build_flags.json")) as f:
    FLAGS = json.load(f)

CUDA_SOURCES = rel(glob.glob(os.path.join(ROOT, "cuda", "*.cu")))
WITH_CUDA = want_cuda() and bool(CUDA_SOURCES)
CUDA_ARCHS = (
    os.environ.setdefault("TORCH_CUDA_ARCH_LIST", FLAGS["cuda_arch_list"]) if WITH_CUDA else ""
)
CXX_FLAGS = FLAGS["cxx"]
NVCC_FLAGS = FLAGS["nvcc"]
DEFINES = [("GELU_EXT_VERSION", f'"{VERSION}"')]
if WITH_CUDA:
    DEFINES += [("GELU_EXT_WITH_CUDA", "1"), ("GELU_EXT_CUDA_ARCHS", f'"{CUDA_ARCHS}"')]

op_sources = rel(
    glob.glob(os.path.join(ROOT, "csrc", "*.cpp"))
    + glob.glob(os.path.join(ROOT, "csrc", "*", "*.cpp"))
)
op_sources.remove(os.path.join("csrc", "python_module.cpp"))

ext_type = cpp_extension.CUDAExtension if WITH_CUDA else cpp_extension.CppExtension
extra = {"cxx": CXX_FLAGS}
if WITH_CUDA:
    extra["nvcc"] = NVCC_FLAGS
ops = ext_type(
    "gelu_ext._ops",
    op_sources + (CUDA_SOURCES if WITH_CUDA else []),
    include_dirs=[os.path.join(ROOT, "csrc")],
    define_macros=DEFINES,
    extra_compile_args=extra,
    # No libtorch_python: the op library loads in C++ programs without Python.
    py_limited_api=True,
)
pymodule = cpp_extension.CppExtension(
    "gelu_ext._C",
    [os.path.join("csrc", "python_module.cpp")],
    define_macros=DEFINES[:1],  # GELU_EXT_VERSION: load() checks the op library against it
    extra_compile_args={"cxx": CXX_FLAGS},
)

# Metadata (name, description, dependencies) is in pyproject.toml; the
# version and the extensions are computed here.
setup(
    version=VERSION,
    packages=["gelu_ext", "gelu_ext.cli"],
    package_data={"gelu_ext": ["py.typed"]},
    ext_modules=[ops, pymodule],
    cmdclass={
        "build_ext": cpp_extension.BuildExtension.with_options(
            use_ninja=shutil.which("ninja") is not None
        )
    },
)
