// Test helpers: what the process holds (open descriptors, zombie children), to prove nothing
// leaks.
#pragma once

#include <fstream>
#include <sstream>
#include <string>

#include <dirent.h>
#include <unistd.h>

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

// Children of this process that have ended and not been reaped (state Z), from /proc/*/stat.
inline int zombie_children() {
  int zombies = 0;
  const pid_t me = ::getpid();
  DIR* d = ::opendir("/proc");
  if (!d) return -1;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    std::ifstream in(std::string("/proc/") + e->d_name + "/stat");
    std::string line;
    if (!std::getline(in, line)) continue;
    auto close_paren = line.rfind(')');  // the name, in parentheses, may hold anything
    if (close_paren == std::string::npos) continue;
    std::istringstream rest(line.substr(close_paren + 2));
    char state = 0;
    pid_t ppid = 0;
    rest >> state >> ppid;
    if (ppid == me && state == 'Z') ++zombies;
  }
  ::closedir(d);
  return zombies;
}

}  // namespace weft::test
