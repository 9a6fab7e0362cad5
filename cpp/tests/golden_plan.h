// Test-only: the golden tiny model's WeightPlan, as the TypeScript planner wrote it
// (test/fixtures/plans/tiny-original.plan, kept current by test/plan-fixture.test.ts).
#pragma once
#include <string>

#include "io/plan.h"

namespace ovis::test {

// Directory of the golden fixtures (test/fixtures/golden), found from the working directory or
// the OVIS_GOLDEN_DIR environment variable.
std::string golden_dir();

// All three components (VAE encoder included) of test/fixtures/golden/tiny-original. The fixture
// names its files `/@golden/...` so that it does not depend on where the repository is checked out;
// they are put under golden_dir() here.
WeightPlan golden_tiny_plan();

}  // namespace ovis::test
