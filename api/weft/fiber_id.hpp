// weft — fiber identifiers.
#pragma once

#include <cstdint>

namespace weft {

// Names a fiber. An id names a slot of a process-wide table and the slot's generation, which
// moves on each time a fiber in the slot ends: an id is not reused until its slot has held
// 2^40 - 1 more fibers. 0 (FiberId::none) is never a fiber. Ids stay meaningful after the
// fiber ends: join() of an ended fiber returns at once, cancel_blocking_call() of one returns
// WSAEINVAL.
enum class FiberId : std::uint64_t { none = 0 };

constexpr std::uint64_t to_integer(FiberId id) noexcept { return static_cast<std::uint64_t>(id); }

}  // namespace weft
