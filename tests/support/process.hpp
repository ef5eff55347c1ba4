// Test helpers: what the process holds (open descriptors), to prove nothing leaks.
#pragma once

#include <dirent.h>

namespace weft::test {

// The number of descriptors this process has open (not counting the one used to count).
inline int open_descriptors() {
  int n = 0;
  DIR* d = ::opendir("/proc/self/fd");
  if (!d) return -1;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] != '.') ++n;
  }
  ::closedir(d);
  return n - 1;
}

}  // namespace weft::test
