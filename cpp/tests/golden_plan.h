// Test-only: builds a WeightPlan for the golden tiny model from its original-layout files
// (test/fixtures/golden/tiny-original) with a compact key-mapping table, as lib/model does in TS.
#pragma once
#include <string>

#include "io/plan.h"

namespace ovis::test {

// Directory of the golden fixtures (test/fixtures/golden), found from the working directory or
// the OVIS_GOLDEN_DIR environment variable.
std::string golden_dir();

// All three components, configs from manifest.json. Throws when a stored key has no mapping.
WeightPlan golden_tiny_plan();

}  // namespace ovis::test
