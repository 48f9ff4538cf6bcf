#pragma once
// Strong unit types. Every quantity that crosses a module boundary carries its unit in its type;
// unit strings ("400Gbps", "1.5us") are parsed only by the scenario loader.

#include <compare>
#include <cstdint>

namespace strata::sim {

/// A double tagged with a physical unit. Arithmetic is defined only where the result keeps a unit.
template <class Tag>
class Quantity {
 public:
  constexpr Quantity() = default;
  constexpr explicit Quantity(double value) : value_(value) {}

  /// The magnitude in the unit's base (bytes, seconds, FLOPs, FLOP/s, bytes/s).
  [[nodiscard]] constexpr double value() const { return value_; }

  constexpr Quantity& operator+=(Quantity o) {
    value_ += o.value_;
    return *this;
  }
  constexpr Quantity& operator-=(Quantity o) {
    value_ -= o.value_;
    return *this;
  }
  friend constexpr Quantity operator+(Quantity a, Quantity b) { return Quantity(a.value_ + b.value_); }
  friend constexpr Quantity operator-(Quantity a, Quantity b) { return Quantity(a.value_ - b.value_); }
  friend constexpr Quantity operator*(Quantity a, double k) { return Quantity(a.value_ * k); }
  friend constexpr Quantity operator*(double k, Quantity a) { return Quantity(a.value_ * k); }
  friend constexpr Quantity operator/(Quantity a, double k) { return Quantity(a.value_ / k); }
  /// Ratio of two quantities of the same unit.
  friend constexpr double operator/(Quantity a, Quantity b) { return a.value_ / b.value_; }
  friend constexpr auto operator<=>(Quantity a, Quantity b) = default;

 private:
  double value_ = 0.0;
};

struct BytesTag {};
struct SecondsTag {};
struct FlopsTag {};
struct FlopRateTag {};
struct ByteRateTag {};

using Bytes = Quantity<BytesTag>;        ///< data size, bytes
using Seconds = Quantity<SecondsTag>;    ///< duration, seconds
using Flops = Quantity<FlopsTag>;        ///< floating-point operations
using FlopRate = Quantity<FlopRateTag>;  ///< FLOP/s
using ByteRate = Quantity<ByteRateTag>;  ///< bytes/s (never bits/s)

constexpr Seconds operator/(Flops f, FlopRate r) { return Seconds(f.value() / r.value()); }
constexpr Seconds operator/(Bytes b, ByteRate r) { return Seconds(b.value() / r.value()); }
constexpr Flops operator*(FlopRate r, Seconds t) { return Flops(r.value() * t.value()); }
constexpr Bytes operator*(ByteRate r, Seconds t) { return Bytes(r.value() * t.value()); }
constexpr FlopRate operator/(Flops f, Seconds t) { return FlopRate(f.value() / t.value()); }
constexpr ByteRate operator/(Bytes b, Seconds t) { return ByteRate(b.value() / t.value()); }

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
constexpr double kMiB = 1024.0 * 1024.0;

}  // namespace strata::sim
