// Shared by the example programs: reading a numeric command-line argument.
#pragma once

#include <cerrno>
#include <cstdlib>

// Parses `text` as a whole decimal number within [lo, hi] into *out; false otherwise.
inline bool parse_number(const char* text, long lo, long hi, long* out) {
  char* end = nullptr;
  errno = 0;
  long v = std::strtol(text, &end, 10);
  if (end == text || *end || errno || v < lo || v > hi) return false;
  *out = v;
  return true;
}
