// Test runner: runs every registered TEST (or those whose name contains argv[1]) and prints a summary.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>

#include "tests/testing.h"

int main(int argc, char** argv) {
  const char* filter = argc > 1 ? argv[1] : nullptr;
  int passed = 0, failed = 0;
  for (const auto& t : ovis_test::registry()) {
    if (filter && !std::strstr(t.name, filter)) continue;
    const auto t0 = std::chrono::steady_clock::now();
    std::string error;
    try {
      t.fn();
    } catch (const ovis::Error& e) {
      error = std::string("uncaught ovis::Error ") + e.code() + ": " + e.what();
    } catch (const std::exception& e) {
      error = e.what();
    } catch (...) {
      error = "unknown exception";
    }
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (error.empty()) {
      ++passed;
      std::printf("[ OK ] %s (%.0f ms)\n", t.name, ms);
    } else {
      ++failed;
      std::printf("[FAIL] %s: %s\n", t.name, error.c_str());
    }
    std::fflush(stdout);
  }
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
