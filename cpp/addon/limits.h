// Limits of the engine options, the same numbers as lib/native/engine-limits.ts (a test compares them).
#pragma once

namespace ovis::addon {

// Most CPU threads an engine accepts (0 = all cores). TypeScript also caps requests at the core count.
constexpr int kMaxThreads = 1024;
// Most digits of N in a "cuda:N" device name.
constexpr int kMaxDeviceDigits = 3;

}  // namespace ovis::addon
