#include <weft/histogram.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <thread>

namespace weft {
namespace {

// Within the histogram's stated precision (1/16) of the exact value.
void expect_near_rel(std::uint64_t got, double want) {
  EXPECT_LE(std::abs(static_cast<double>(got) - want), want / 16 + 1)
      << "got " << got << " want " << want;
}

TEST(Histogram, PercentilesOfAUniformRange) {
  Histogram h;
  for (std::uint64_t v = 1; v <= 100000; ++v) h.record(v);
  HistogramSnapshot s = h.snapshot();
  EXPECT_EQ(s.count(), 100000u);
  EXPECT_EQ(s.max(), 100000u);
  EXPECT_EQ(s.sum(), 100000ull * 100001ull / 2);
  expect_near_rel(s.percentile(0.5), 50000);
  expect_near_rel(s.percentile(0.9), 90000);
  expect_near_rel(s.percentile(0.99), 99000);
  EXPECT_EQ(s.percentile(1.0), 100000u);
  EXPECT_LE(s.percentile(0.0), 1u);
}

TEST(Histogram, SmallValuesAreExact) {
  Histogram h;
  for (int i = 0; i < 10; ++i) h.record(3);
  h.record(7);
  HistogramSnapshot s = h.snapshot();
  EXPECT_EQ(s.percentile(0.5), 3u);
  EXPECT_EQ(s.percentile(1.0), 7u);
  EXPECT_EQ(s.count_at_or_below(3), 10u);
  EXPECT_EQ(s.count_at_or_below(2), 0u);
}

TEST(Histogram, EmptyAndHugeValues) {
  Histogram h;
  EXPECT_EQ(h.snapshot().percentile(0.99), 0u);
  h.record(UINT64_MAX);
  EXPECT_EQ(h.snapshot().count(), 1u);
  EXPECT_EQ(h.snapshot().percentile(0.5), UINT64_MAX);
}

TEST(Histogram, BucketsTileTheRange) {
  using namespace histogram_detail;
  for (std::size_t i = 0; i + 1 < kBuckets; ++i) {
    ASSERT_EQ(bucket_of(bucket_low(i)), i);
    ASSERT_EQ(bucket_of(bucket_high(i)), i);
    ASSERT_EQ(bucket_high(i) + 1, bucket_low(i + 1));
  }
}

TEST(Histogram, MergeAndWindow) {
  Histogram a, b;
  for (int i = 0; i < 1000; ++i) a.record(1000);
  HistogramSnapshot before = a.snapshot();
  for (int i = 0; i < 1000; ++i) a.record(1000000);
  for (int i = 0; i < 3000; ++i) b.record(10);

  HistogramSnapshot window = a.snapshot().since(before);
  EXPECT_EQ(window.count(), 1000u);
  expect_near_rel(window.percentile(0.01), 1000000);
  expect_near_rel(window.max(), 1000000);

  HistogramSnapshot merged = a.snapshot();
  merged.merge(b.snapshot());
  EXPECT_EQ(merged.count(), 5000u);
  EXPECT_EQ(merged.percentile(0.5), 10u);  // 3000 of 5000 are 10
  expect_near_rel(merged.percentile(0.7), 1000);
  EXPECT_EQ(merged.max(), 1000000u);
}

// One writer, one concurrent reader: TSan checks the relaxed-atomic contract.
TEST(Histogram, SnapshotWhileRecording) {
  Histogram h;
  std::thread writer([&] {
    for (std::uint64_t i = 0; i < 200000; ++i) h.record(i % 5000);
  });
  std::uint64_t last = 0;
  for (int i = 0; i < 50; ++i) {
    std::uint64_t n = h.snapshot().count();
    EXPECT_GE(n, last);
    last = n;
  }
  writer.join();
  EXPECT_EQ(h.snapshot().count(), 200000u);
}

}  // namespace
}  // namespace weft
