// The fast AVX-512 integer LayerNorm (src/kernels/x86/layer_norm_avx512.cc) against layer_norm_ref, every code
// with ASSERT_EQ: both multiplier widths (the paper's 8-bit M, the float-LN files' 24-bit M with epsilon), C of 1,
// odd, around the 8 / 16 lane blocks, 192 ... 4096, row counts around the 16-row square-root group, edge rows
// (constant, one hot channel at either extreme, the largest and the smallest variance, PTF outlier channels with
// shift 3), gamma 0 / negative / tiny (N clamped at 31) / huge (rows the fast form refuses), and two threads at
// once. Guards check that the fast form, not its fallback, computed the rows that model-like parameters give.
// Skipped on a CPU without AVX-512 VNNI.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "fqvit/kernels/int_ops.h"
#include "fqvit/lower/lower.h"
#include "kernels/cpu_features.h"
#include "kernels/x86/int_ops_x86.h"

namespace fqvit {
namespace {

// Model-like parameters (gamma / s_out in [0.05, 100], |beta / s_out| <= 60, PTF shifts up to 3): the fast form
// must compute at least this share of the rows with D > 0 (the rest would silently test the fallback only).
constexpr double kMinFastShare = 0.95;

FixedMultiplier mult(double real) { return fixed_multiplier_from_real(real, "test", "gamma"); }

double log_uniform(std::mt19937& rng, double lo, double hi) {
  return std::exp(std::uniform_real_distribution<double>(std::log(lo), std::log(hi))(rng));
}

struct GammaMix {
  double lo = 0.05, hi = 100;  // |gamma / s_out|
  int zero_every = 0;          // every n-th channel gamma = 0 (0: none)
  int tiny_every = 0;          // every n-th channel gamma / s_out = 1e-6 (N clamped at 31)
};

LayerNormParams model_like(int64_t c, int bits, const GammaMix& mix, std::mt19937& rng) {
  std::uniform_int_distribution<int> u8(0, 255);
  LayerNormParams p;
  p.channels = c;
  p.in_zero_point = 100 + u8(rng) % 56;
  p.multiplier_bits = bits;
  p.variance_epsilon = bits == 24 ? static_cast<int64_t>(log_uniform(rng, 1, 1e5)) : 0;
  p.out_zero_point = u8(rng);
  for (int64_t i = 0; i < c; ++i) {
    p.in_shift.push_back(static_cast<uint8_t>(i % 11 == 4 ? 3 : (i % 5 == 1 ? u8(rng) % 3 : 0)));
    double gamma = (i % 3 == 2 ? -1 : 1) * log_uniform(rng, mix.lo, mix.hi);
    if (mix.tiny_every != 0 && i % mix.tiny_every == 1) gamma = 1e-6;
    p.gamma.push_back(mix.zero_every != 0 && i % mix.zero_every == 0 ? FixedMultiplier{} : mult(gamma));
    const double beta = std::uniform_real_distribution<double>(-60, 60)(rng);
    p.beta_q32.push_back(std::llround(std::ldexp(beta, 32)));
    p.zero_variance_code.push_back(static_cast<uint8_t>(std::clamp<long>(std::lround(beta) + p.out_zero_point, 0, 255)));
  }
  return p;
}

// Codes around the zero point with a model-like spread, some channels far out.
std::vector<uint8_t> activations(const LayerNormParams& p, int64_t rows, std::mt19937& rng) {
  std::normal_distribution<double> spread(0, 12);
  std::vector<uint8_t> q(static_cast<size_t>(rows * p.channels));
  for (size_t i = 0; i < q.size(); ++i) {
    const double far = i % 23 == 7 ? 90 : 0;
    q[i] = static_cast<uint8_t>(std::clamp<long>(std::lround(p.in_zero_point + far + spread(rng)), 0, 255));
  }
  return q;
}

std::string describe(const LayerNormParams& p, int64_t rows) {
  return "C " + std::to_string(p.channels) + " bits " + std::to_string(p.multiplier_bits) + " rows " +
         std::to_string(rows) + " zp " + std::to_string(p.in_zero_point) + " eps " + std::to_string(p.variance_epsilon);
}

// Runs the fast kernel and the reference on q, compares every code; returns the rows the fast form computed.
int64_t expect_equal(const LayerNormParams& p, const std::vector<uint8_t>& q, const std::string& what) {
  const int64_t rows = static_cast<int64_t>(q.size()) / p.channels;
  std::vector<uint8_t> want(q.size()), got(q.size(), 0xA5);
  layer_norm_ref(p, q.data(), rows, want.data());
  int64_t fast = -1;
  kernels::layer_norm_avx512(p, q.data(), rows, got.data(), &fast);
  for (size_t i = 0; i < want.size(); ++i) {
    const auto c = i % static_cast<size_t>(p.channels);
    if (got[i] != want[i]) {
      ADD_FAILURE() << what << ": " << describe(p, rows) << " row " << i / static_cast<size_t>(p.channels)
                    << " channel " << c << " gamma " << p.gamma[c].mantissa_q31 << "*2^" << p.gamma[c].exponent
                    << " shift " << int{p.in_shift[c]} << ": got " << int{got[i]} << ", reference " << int{want[i]};
      return fast;
    }
  }
  return fast;
}

int64_t rows_with_variance(const LayerNormParams& p, const std::vector<uint8_t>& q) {
  int64_t n = 0;
  for (size_t r = 0; r * static_cast<size_t>(p.channels) < q.size(); ++r) {
    const uint8_t* row = q.data() + r * static_cast<size_t>(p.channels);
    n += p.variance_epsilon > 0 || std::any_of(row, row + p.channels, [&](uint8_t v) { return v != row[0]; }) ||
         std::any_of(p.in_shift.begin(), p.in_shift.end(), [&](uint8_t s) { return s != p.in_shift[0]; });
  }
  return n;
}

class LayerNormFast : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!kernels::cpu_has_avx512_vnni()) GTEST_SKIP() << "this CPU has no AVX-512 VNNI";
  }
};

TEST_F(LayerNormFast, SquareRootsOfSixteenLanesEqualIsqrt) {
  std::vector<uint64_t> v;
  const uint64_t lo = uint64_t{1} << 60, hi = uint64_t{1} << 62;
  for (uint64_t r = 1u << 30; r < (1u << 30) + 64; ++r) v.insert(v.end(), {r * r, r * r - 1, r * r + 1});
  for (uint64_t r = (uint64_t{1} << 31) - 64; r < (uint64_t{1} << 31); ++r) v.insert(v.end(), {r * r, r * r - 1, r * r + 1});
  v.insert(v.end(), {lo, lo + 1, hi - 1, hi - 2});
  std::mt19937_64 rng(5);
  for (int i = 0; i < 4000; ++i) v.push_back(lo + rng() % (hi - lo));
  std::erase_if(v, [&](uint64_t x) { return x < lo || x >= hi; });
  while (v.size() % 16 != 0) v.push_back(lo);
  std::vector<uint64_t> root(v.size());
  for (size_t i = 0; i < v.size(); i += 16) kernels::isqrt_2_60_x16_avx512(v.data() + i, root.data() + i);
  for (size_t i = 0; i < v.size(); ++i) ASSERT_EQ(root[i], isqrt_u64(v[i])) << "v = " << v[i];
}

TEST_F(LayerNormFast, RandomModelLikeRowsEqualReference) {
  std::mt19937 rng(71);
  for (const int bits : {8, 24}) {
    int64_t fast = 0, with_variance = 0;
    for (const int64_t c : {1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 33, 192, 197, 384, 768, 4096}) {
      for (const int64_t rows : {1, 7, 8, 9, 15, 16, 17, 33}) {
        if (c >= 768 && rows > 9) continue;
        const LayerNormParams p = model_like(c, bits, GammaMix{}, rng);
        const std::vector<uint8_t> q = activations(p, rows, rng);
        const int64_t f = expect_equal(p, q, "random");
        if (HasFailure()) return;
        if (c >= 8) fast += f, with_variance += rows_with_variance(p, q);
      }
    }
    EXPECT_GE(double(fast), kMinFastShare * double(with_variance)) << "bits " << bits << ": the fast form took "
                                                                  << fast << " of " << with_variance << " rows";
  }
}

TEST_F(LayerNormFast, EdgeRowsEqualReference) {
  std::mt19937 rng(72);
  for (const int bits : {8, 24}) {
    for (const int64_t c : {9, 192, 768}) {
      LayerNormParams p = model_like(c, bits, GammaMix{}, rng);
      const auto zp = static_cast<uint8_t>(p.in_zero_point);
      std::vector<std::vector<uint8_t>> rows;
      rows.push_back(std::vector<uint8_t>(static_cast<size_t>(c), zp));                  // constant (D = 0 per tensor)
      rows.push_back(std::vector<uint8_t>(static_cast<size_t>(c), 255));
      for (const uint8_t extreme : {uint8_t{0}, uint8_t{255}}) {
        for (const int64_t at : {int64_t{0}, c / 2, c - 1}) {  // one hot channel (incl. a shift-3 one at c / 2 ...)
          std::vector<uint8_t> r(static_cast<size_t>(c), zp);
          r[static_cast<size_t>(at)] = extreme;
          rows.push_back(r);
        }
      }
      std::vector<uint8_t> alternating(static_cast<size_t>(c)), tiny(static_cast<size_t>(c)), ptf(static_cast<size_t>(c));
      for (int64_t i = 0; i < c; ++i) {
        alternating[static_cast<size_t>(i)] = i % 2 ? 255 : 0;                            // the largest variance
        tiny[static_cast<size_t>(i)] = static_cast<uint8_t>(i == 3 ? 201 : 200);          // the smallest nonzero one
        ptf[static_cast<size_t>(i)] = p.in_shift[static_cast<size_t>(i)] == 3 ? 255 : zp; // PTF outliers only
      }
      rows.insert(rows.end(), {alternating, tiny, ptf});
      std::vector<uint8_t> q;
      for (const auto& r : rows) q.insert(q.end(), r.begin(), r.end());
      expect_equal(p, q, "edge rows");
      if (HasFailure()) return;
      std::fill(p.in_shift.begin(), p.in_shift.end(), uint8_t{0});  // per tensor: constant rows have D = 0 exactly
      expect_equal(p, q, "edge rows, per-tensor input");
      if (HasFailure()) return;
    }
  }
}

TEST_F(LayerNormFast, SpecialGammasEqualReference) {
  std::mt19937 rng(73);
  struct Case {
    const char* what;
    GammaMix mix;
    bool fast_expected;
  };
  const Case cases[] = {
      {"gamma 0 on every 7th channel", GammaMix{0.05, 100, 7, 0}, true},
      {"tiny gamma (N clamped at 31)", GammaMix{0.05, 100, 0, 9}, true},
      {"all gammas tiny", GammaMix{1e-6, 1e-5, 0, 0}, false},
      {"huge gammas (N below 1: the general form)", GammaMix{1e4, 1e6, 0, 0}, false},
      {"all gammas 0", GammaMix{0.05, 100, 1, 0}, true},
  };
  for (const Case& k : cases) {
    for (const int bits : {8, 24}) {
      for (const int64_t c : {17, 192, 384}) {
        const LayerNormParams p = model_like(c, bits, k.mix, rng);
        const std::vector<uint8_t> q = activations(p, 9, rng);
        const int64_t fast = expect_equal(p, q, k.what);
        if (HasFailure()) return;
        if (k.fast_expected) {
          EXPECT_EQ(fast, 9) << k.what << ", " << describe(p, 9);
        }
      }
    }
  }
}

// The reference's intermediates for one row and channel (layer_norm_ref.cc, same int128 steps), to build data that
// sits exactly on a rounding boundary; the expected codes still come from layer_norm_ref.
__extension__ typedef __int128 int128;
struct Intermediates {
  int n = 0;
  int64_t m = 0, x = 0, t_fp = 0;
  bool t_exact = false;  // the mean term's division by 2^j had no remainder
};
struct RowSums {
  int64_t s1 = 0, inv = 0;
  int k = 0;
};
RowSums row_sums(const LayerNormParams& p, const uint8_t* row) {
  int64_t s1 = 0, s2 = 0;
  for (int64_t i = 0; i < p.channels; ++i) {
    const int64_t v = (int64_t{row[i]} - p.in_zero_point) << p.in_shift[static_cast<size_t>(i)];
    s1 += v, s2 += v * v;
  }
  const int64_t d = p.channels * s2 - s1 * s1 + p.variance_epsilon;  // > 0 for these rows
  const int k = (62 - static_cast<int>(std::bit_width(static_cast<uint64_t>(d)))) / 2;
  return {s1, (int64_t{1} << 61) / static_cast<int64_t>(isqrt_u64(static_cast<uint64_t>(d) << (2 * k))), k};
}
Intermediates intermediates(const LayerNormParams& p, const uint8_t* row, const RowSums& rs, int64_t c) {
  const int64_t s1 = rs.s1, inv = rs.inv;
  const int k = rs.k;
  const FixedMultiplier g = p.gamma[static_cast<size_t>(c)];
  const int j = 44 - g.exponent - k;  // > 0 for these parameters
  const int128 mant = g.mantissa_q31 < 0 ? -int128{g.mantissa_q31} : int128{g.mantissa_q31};
  const int128 a_fp = (int128{p.channels} * mant * inv) >> j;
  int bits = 0;
  while ((a_fp >> bits) > 1) ++bits;  // floor(log2 a_fp)
  Intermediates r;
  r.n = std::clamp(p.multiplier_bits - 1 - (bits - 48), 0, 31);
  r.m = static_cast<int64_t>(std::min<int128>(a_fp >> (48 - r.n), (int128{1} << p.multiplier_bits) - 1));
  const int128 t_prod = (g.mantissa_q31 < 0 ? -1 : 1) * mant * s1 * inv;
  r.t_fp = static_cast<int64_t>(t_prod >> j);
  r.t_exact = (t_prod & ((int128{1} << j) - 1)) == 0;
  r.x = (int64_t{row[c]} - p.in_zero_point) << p.in_shift[static_cast<size_t>(c)];
  return r;
}

// B = round(2^N (beta - mean term)) exactly half-way (v + 2^(47-N) a multiple of 2^(48-N), which needs the mean term
// t_fp to be a multiple of 2^16: about one (row, channel) in 2^16), and M x + B exactly half-way between two codes:
// both of the reference's roundings decided by a tie. Beta is chosen per channel to put each found case there.
TEST_F(LayerNormFast, RoundingTiesOfTheOffsetAndTheOutputEqualReference) {
  std::mt19937 rng(75);
  for (const int bits : {8, 24}) {
    LayerNormParams p = model_like(192, bits, GammaMix{}, rng);
    std::vector<uint8_t> chosen;
    std::vector<int64_t> chosen_channel;
    int inexact = 0;
    for (int attempt = 0; attempt < 20000 && chosen.size() < 8 * 192; ++attempt) {
      const std::vector<uint8_t> row = activations(p, 1, rng);
      const RowSums rs = row_sums(p, row.data());
      for (int64_t c = 0; c < 192; ++c) {
        if (std::count(chosen_channel.begin(), chosen_channel.end(), c) != 0) continue;  // one row per channel
        const Intermediates in = intermediates(p, row.data(), rs, c);
        if (in.t_fp % 65536 != 0 || in.n < 1) continue;
        // y = q + 1 from the tie q 2^N + 2^(N-1) with q odd: halves to even upward; one less in B would give q.
        const int64_t q = p.out_zero_point + 2 <= 255 ? 1 : -3;
        const int64_t sign = p.gamma[static_cast<size_t>(c)].mantissa_q31 < 0 ? -1 : 1;
        const int64_t b = q * (int64_t{1} << in.n) + (int64_t{1} << (in.n - 1)) - sign * in.m * in.x;
        const int128 beta48 = int128{b} * (int128{1} << (48 - in.n)) - (int128{1} << (47 - in.n)) + in.t_fp;
        p.beta_q32[static_cast<size_t>(c)] = static_cast<int64_t>(beta48 / 65536);
        chosen.insert(chosen.end(), row.begin(), row.end());
        chosen_channel.push_back(c);
        inexact += !in.t_exact;
        break;
      }
    }
    ASSERT_GE(chosen_channel.size(), 4u) << "bits " << bits << ": too few boundary cases found";
    EXPECT_GE(inexact, 2) << "bits " << bits << ": the mean term's floor must leave a remainder in some cases";
    const int64_t fast = expect_equal(p, chosen, "rounding ties");
    if (HasFailure()) return;
    EXPECT_EQ(fast, static_cast<int64_t>(chosen_channel.size())) << "bits " << bits;
  }
}

TEST_F(LayerNormFast, TwoThreadsGiveTheSameCodes) {
  std::mt19937 rng(74);
  for (const int bits : {8, 24}) {
    const LayerNormParams p = model_like(192, bits, GammaMix{0.05, 100, 13, 0}, rng);
    const int64_t rows = 64;
    const std::vector<uint8_t> q = activations(p, rows, rng);
    std::vector<uint8_t> want(q.size()), got(q.size());
    layer_norm_ref(p, q.data(), rows, want.data());
    const int64_t half = 27;  // not a multiple of the 16-row group
    std::thread other([&] { kernels::layer_norm_avx512(p, q.data(), half, got.data()); });
    kernels::layer_norm_avx512(p, q.data() + half * 192, rows - half, got.data() + half * 192);
    other.join();
    for (size_t i = 0; i < want.size(); ++i) ASSERT_EQ(got[i], want[i]) << "bits " << bits << " element " << i;
  }
}

}  // namespace
}  // namespace fqvit
