#include "golden_plan.h"

#include <cstdlib>
#include <stdexcept>
#include <sys/stat.h>

#include "safetensors_reader.h"

namespace ovis::test {

namespace {

// The folder test/plan-fixture.test.ts writes in place of the golden fixture folder.
constexpr const char* kPortableRoot = "/@golden/";

bool exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

// Test fixtures folder (test/fixtures), the same search golden_dir() uses.
std::string fixtures_dir() {
  const std::string golden = golden_dir();
  return golden.substr(0, golden.rfind('/'));
}

}  // namespace

std::string golden_dir() {
  if (const char* env = std::getenv("OVIS_GOLDEN_DIR")) return env;
  // The repository this file was compiled from (cpp/tests/golden_plan.cpp -> root), then the
  // working directory and its parents.
  std::string here = __FILE__;
  for (int up = 0; up < 3 && here.find('/') != std::string::npos; ++up) here.erase(here.rfind('/'));
  const std::string candidates[] = {here + "/test/fixtures/golden", "test/fixtures/golden", "../test/fixtures/golden",
                                    "../../test/fixtures/golden"};
  for (const std::string& c : candidates)
    if (exists(c + "/manifest.json")) return c;
  throw std::runtime_error("golden fixtures not found: run from the repository root or set OVIS_GOLDEN_DIR");
}

WeightPlan golden_tiny_plan() {
  WeightPlan plan = parse_plan(read_text_file(fixtures_dir() + "/plans/tiny-original.plan"));
  const std::string root = kPortableRoot;
  for (std::string& file : plan.files) {
    if (file.compare(0, root.size(), root) != 0)
      throw std::runtime_error("plan fixture: file " + file + " is not under " + root);
    file = golden_dir() + "/" + file.substr(root.size());
  }
  plan.file_ids.clear();  // the fixture's identities are zeros: map these files unchecked
  return plan;
}

}  // namespace ovis::test
