// The one C++ sigma schedule (model/schedule.h) against the reference scheduler's cases.
#include <cmath>

#include "golden_plan.h"
#include "model/schedule.h"
#include "safetensors_reader.h"
#include "tests/testing.h"

TEST(flow_match_sigmas_match_golden_scheduler) {
  const ovis::test::Json cases =
      ovis::test::parse_json(ovis::test::read_text_file(ovis::test::golden_dir() + "/scheduler/cases.json"));
  int checked = 0;
  for (const auto& c : cases.items) {
    const std::vector<float> got = ovis::flow_match_sigmas(int(c.at("steps").num), int64_t(c.at("image_seq_len").num));
    const auto& want = c.at("sigmas").items;
    CHECK(got.size() == want.size());
    for (size_t i = 0; i < want.size(); ++i)
      CHECK_MSG(std::fabs(got[i] - want[i].num) <= 1e-6, "steps " << c.at("steps").num << " L "
                                                                  << c.at("image_seq_len").num << " sigma " << i << ": "
                                                                  << got[i] << " vs " << want[i].num);
    ++checked;
  }
  CHECK(checked > 3);
}
