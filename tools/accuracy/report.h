// The sweep's results as a text table (stdout) and as JSON (--json FILE).
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "sweep.h"

namespace gelu_ext_accuracy {

struct RunInfo {
  std::string gelu_ext_version, torch_version, device, simd;
  double seconds = 0;
};

struct FormatReport {
  FormatResult result;
  std::vector<SpecialRow> specials;
};

// gelu_ext within the contract in every swept cell (native is not judged).
bool meets_contract(const FormatResult& r, const Options& opt);
// The largest disagreement of the double reference with long double, in ulps.
double reference_check_max(const FormatResult& r, const Options& opt);

void print_text(std::FILE* out, const RunInfo& info, const Options& opt,
                const std::vector<FormatReport>& reports);
// Returns false (with errno set) when the file cannot be written.
bool write_json(const std::string& path, const RunInfo& info, const Options& opt,
                const std::vector<FormatReport>& reports);

}  // namespace gelu_ext_accuracy
