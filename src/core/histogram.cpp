#include <weft/histogram.hpp>

#include <algorithm>
#include <cmath>

namespace weft {

using histogram_detail::bucket_high;
using histogram_detail::bucket_of;

std::uint64_t HistogramSnapshot::percentile(double q) const noexcept {
  if (count_ == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  // The rank of the value asked for, 1-based: the smallest r with r >= q * count.
  auto rank = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(count_)));
  rank = std::clamp<std::uint64_t>(rank, 1, count_);
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < kBuckets; ++i) {
    seen += buckets_[i];
    if (seen >= rank) return std::min(bucket_high(i), max_);
  }
  return max_;
}

std::uint64_t HistogramSnapshot::count_at_or_below(std::uint64_t bound) const noexcept {
  std::uint64_t n = 0;
  for (std::size_t i = 0; i < kBuckets && bucket_high(i) <= bound; ++i) n += buckets_[i];
  return n;
}

void HistogramSnapshot::merge(const HistogramSnapshot& other) noexcept {
  for (std::size_t i = 0; i < kBuckets; ++i) buckets_[i] += other.buckets_[i];
  count_ += other.count_;
  sum_ += other.sum_;
  max_ = std::max(max_, other.max_);
}

HistogramSnapshot HistogramSnapshot::since(const HistogramSnapshot& older) const noexcept {
  HistogramSnapshot d;
  for (std::size_t i = 0; i < kBuckets; ++i) {
    d.buckets_[i] = buckets_[i] >= older.buckets_[i] ? buckets_[i] - older.buckets_[i] : 0;
  }
  d.count_ = count_ >= older.count_ ? count_ - older.count_ : 0;
  d.sum_ = sum_ >= older.sum_ ? sum_ - older.sum_ : 0;
  d.recompute_max();
  d.max_ = std::min(d.max_, max_);
  return d;
}

void HistogramSnapshot::add(std::uint64_t value) noexcept {
  ++buckets_[bucket_of(value)];
  ++count_;
  sum_ += value;
  max_ = std::max(max_, value);
}

void HistogramSnapshot::recompute_max() noexcept {
  max_ = 0;
  for (std::size_t i = kBuckets; i-- > 0;) {
    if (buckets_[i]) {
      max_ = bucket_high(i);
      return;
    }
  }
}

HistogramSnapshot Histogram::snapshot() const noexcept {
  HistogramSnapshot s;
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < s.kBuckets; ++i) {
    s.buckets_[i] = buckets_[i].load(std::memory_order_relaxed);
    total += s.buckets_[i];
  }
  // count and sum are read after the buckets; use the buckets' total so percentiles and
  // count always agree within one snapshot.
  s.count_ = total;
  s.sum_ = sum_.load(std::memory_order_relaxed);
  s.max_ = max_.load(std::memory_order_relaxed);
  return s;
}

void Histogram::reset() noexcept {
  for (auto& b : buckets_) b.store(0, std::memory_order_relaxed);
  count_.store(0, std::memory_order_relaxed);
  sum_.store(0, std::memory_order_relaxed);
  max_.store(0, std::memory_order_relaxed);
}

}  // namespace weft
