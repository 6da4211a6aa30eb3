// Histogram: a log-linear (HDR-style) histogram of non-negative integer values, such as
// durations in nanoseconds.
//
// Buckets: values 0..15 have one bucket each; above that every power of two is split into
// 16 equal sub-buckets, so a reported percentile is within 1/16 (6.25 %) of the true value.
// 640 buckets cover 0 .. 2^43 - 1 (about 2.4 hours in ns); larger values land in the last.
//
// Threads: record() has ONE writer at a time (the loop thread, or a pool's workers under
// the pool's lock); it uses relaxed load+store on atomics, which costs what a plain add
// does but lets any thread call snapshot() at any time without a data race. A snapshot
// taken while recording goes on may see count/sum/buckets a few records apart.
//
// HistogramSnapshot is a plain value: merge() several (one per loop) into one, subtract
// an older one to get the values recorded in between (a window), ask for percentiles.
#pragma once

#include <array>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>

namespace weft {

namespace histogram_detail {
inline constexpr unsigned kSubBits = 4;
inline constexpr std::size_t kSub = std::size_t{1} << kSubBits;  // sub-buckets per octave
inline constexpr std::size_t kBuckets = 640;

// Bucket of value v.
constexpr std::size_t bucket_of(std::uint64_t v) noexcept {
  if (v < kSub) return static_cast<std::size_t>(v);
  const unsigned exp = 63u - static_cast<unsigned>(std::countl_zero(v));  // >= kSubBits
  const std::size_t sub = static_cast<std::size_t>((v >> (exp - kSubBits)) & (kSub - 1));
  const std::size_t index = (exp - kSubBits + 1) * kSub + sub;
  return index < kBuckets ? index : kBuckets - 1;
}
// The smallest value of bucket i.
constexpr std::uint64_t bucket_low(std::size_t i) noexcept {
  if (i < kSub) return i;
  const unsigned exp = static_cast<unsigned>(i / kSub) + kSubBits - 1;
  return (std::uint64_t{1} << exp) | (std::uint64_t{i % kSub} << (exp - kSubBits));
}
// The largest value of bucket i.
constexpr std::uint64_t bucket_high(std::size_t i) noexcept {
  return i + 1 < kBuckets ? bucket_low(i + 1) - 1 : UINT64_MAX;
}
}  // namespace histogram_detail

class HistogramSnapshot {
 public:
  static constexpr std::size_t kBuckets = histogram_detail::kBuckets;

  std::uint64_t count() const noexcept { return count_; }
  std::uint64_t sum() const noexcept { return sum_; }
  // Exact for a snapshot of a Histogram; for a window (delta) or a merge of windows, the
  // upper edge of the highest non-empty bucket.
  std::uint64_t max() const noexcept { return max_; }
  double mean() const noexcept { return count_ ? static_cast<double>(sum_) / count_ : 0.0; }
  // The value at quantile q in [0, 1] (upper edge of its bucket, capped at max()); 0 if empty.
  std::uint64_t percentile(double q) const noexcept;
  // Values recorded at or below `bound` (whole buckets whose upper edge is <= bound).
  std::uint64_t count_at_or_below(std::uint64_t bound) const noexcept;

  void merge(const HistogramSnapshot& other) noexcept;
  // What was recorded between `older` and this snapshot (of the same histogram).
  HistogramSnapshot since(const HistogramSnapshot& older) const noexcept;
  void add(std::uint64_t value) noexcept;  // for building snapshots by hand (tests)

  std::uint64_t bucket(std::size_t i) const noexcept { return buckets_[i]; }

 private:
  friend class Histogram;
  void recompute_max() noexcept;

  std::array<std::uint64_t, kBuckets> buckets_{};
  std::uint64_t count_ = 0;
  std::uint64_t sum_ = 0;
  std::uint64_t max_ = 0;
};

class Histogram {
 public:
  // Single writer (see above). Never allocates, never blocks.
  void record(std::uint64_t value) noexcept {
    bump(buckets_[histogram_detail::bucket_of(value)], 1);
    bump(count_, 1);
    bump(sum_, value);
    if (value > max_.load(std::memory_order_relaxed)) max_.store(value, std::memory_order_relaxed);
  }
  // Any thread.
  HistogramSnapshot snapshot() const noexcept;
  // Writer's thread only: forget everything.
  void reset() noexcept;

 private:
  static void bump(std::atomic<std::uint64_t>& a, std::uint64_t by) noexcept {
    a.store(a.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
  }
  std::array<std::atomic<std::uint64_t>, histogram_detail::kBuckets> buckets_{};
  std::atomic<std::uint64_t> count_{0};
  std::atomic<std::uint64_t> sum_{0};
  std::atomic<std::uint64_t> max_{0};
};

}  // namespace weft
