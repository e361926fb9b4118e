"""The platform string of fqvit's torch numerics (torch_cpu::platform() in src/numerics/torch_vec_ops.cc), recorded in
goldens whose bits come from OpenBLAS or oneDNN: those libraries pick their kernels by CPU, so the goldens are only
bit-exact on the same kind of machine."""
import ctypes


def platform():
    blas = ctypes.CDLL("libopenblas.so.0")
    blas.openblas_get_corename.restype = ctypes.c_char_p
    flags = set()
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    avx512 = {"avx512f", "avx512bw", "avx512vl", "avx512dq"} <= flags
    return f"OpenBLAS {blas.openblas_get_corename().decode()}, {'AVX-512' if avx512 else 'no AVX-512'}"
