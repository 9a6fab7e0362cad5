// Test-only reader for safetensors files and small JSON documents (golden fixtures, configs).
// The engine never parses JSON or checkpoint keys; tests need both to build plans and read cases.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace ovis::test {

// A minimal JSON value: enough for safetensors headers and golden manifests.
struct Json {
  enum Kind { Null, Bool, Number, String, Array, Object } kind = Null;
  bool b = false;
  double num = 0;
  std::string str;
  std::vector<Json> items;
  std::vector<std::pair<std::string, Json>> fields;  // in file order
  const Json* get(const std::string& key) const;     // null when absent or not an object
  const Json& at(const std::string& key) const;      // throws std::runtime_error when absent
};
Json parse_json(const std::string& text);
std::string read_text_file(const std::string& path);

struct SafetensorsEntry {
  std::string dtype;  // "F32", "BF16", ...
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;  // relative to the data section
};

struct SafetensorsFile {
  std::string path;
  uint64_t data_start = 0;         // absolute offset of the data section
  std::vector<std::string> names;  // in header order
  std::map<std::string, SafetensorsEntry> entries;
  bool has(const std::string& name) const { return entries.count(name) != 0; }
  const SafetensorsEntry& entry(const std::string& name) const;  // throws when absent
  // Reads a tensor and converts it to host F32 (F32, F16, BF16 stored).
  Tensor load_f32(const std::string& name) const;
};
SafetensorsFile read_safetensors(const std::string& path);

}  // namespace ovis::test
