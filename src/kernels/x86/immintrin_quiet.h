// <immintrin.h> without GCC 12's false -W(maybe-)uninitialized warnings: its AVX-512 intrinsics start from
// _mm512_undefined_*() (`__m512i __Y = __Y;`), which GCC 12 reports once inlined (GCC bug 105593, fixed in 13).
// The warnings point into the header, so silencing them for the header's lines keeps them on for ours.
#pragma once

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
