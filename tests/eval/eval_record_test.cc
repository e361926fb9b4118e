// Shard slices partition the image list exactly; "I/N" parsing refuses what is not a shard.
#include "fqvit/eval/eval_record.h"

#include <gtest/gtest.h>

#include "fqvit/core/error.h"

namespace fqvit {
namespace {

TEST(ShardSlice, ContiguousBlocksCoverEveryImageOnceWithinOneOfEachOther) {
  for (int64_t total : {0, 1, 2, 7, 650, 50000}) {
    for (int64_t count : {1, 2, 3, 8, 13}) {
      int64_t next = 0, smallest = total, largest = 0;
      for (int64_t i = 0; i < count; ++i) {
        const ImageSlice s = shard_slice(i, count, total);
        ASSERT_EQ(s.first, next) << i << "/" << count << " of " << total;
        next = s.end;
        smallest = std::min(smallest, s.end - s.first);
        largest = std::max(largest, s.end - s.first);
      }
      EXPECT_EQ(next, total) << count << " shards of " << total;
      EXPECT_LE(largest - smallest, 1) << count << " shards of " << total;
    }
  }
}

TEST(ShardSlice, ParseRefusesWhatIsNotAShard) {
  EXPECT_EQ(parse_shard("3/8", "cli", "--shard").index, 3);
  EXPECT_EQ(parse_shard("3/8", "cli", "--shard").count, 8);
  for (const char* bad : {"8/8", "-1/2", "1", "1/0", "a/2", "1/2x", "", "1//2"}) {
    try {
      parse_shard(bad, "cli", "--shard");
      ADD_FAILURE() << bad << " was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()), std::string("cli: --shard: found '") + bad +
                                           "', expected I/N with 0 <= I < N (0-based shard index of N shards)");
    }
  }
}

}  // namespace
}  // namespace fqvit
