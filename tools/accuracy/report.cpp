#include "report.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

namespace gelu_ext_accuracy {

bool meets_contract(const FormatResult& r, const Options& opt) {
  for (Approximation m : opt.modes) {
    for (Direction d : opt.directions) {
      const Cell& c = r.cell(m, d);
      if (!c.impl[kGeluExt].meets_contract()) return false;
      if (opt.cuda && c.cpu_vs_cuda.above_limit > 0) return false;
    }
  }
  return true;
}

double reference_check_max(const FormatResult& r, const Options& opt) {
  double worst = 0;
  for (Approximation m : opt.modes) {
    for (Direction d : opt.directions) worst = std::max(worst, r.cell(m, d).ref_check.value);
  }
  return worst;
}

namespace {

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

// A value of the format, with enough digits to tell neighbours apart.
std::string num(double v, const Format& f) {
  if (std::isnan(v)) return "nan";
  return fmt(f.bits == 32 ? "%.9g" : "%.6g", v);
}

std::string hex(uint32_t p, const Format& f) {
  char buf[16];
  std::snprintf(buf, sizeof buf, f.bits == 32 ? "0x%08x" : "0x%04x", p);
  return buf;
}

std::string where(const Worst& w, const Format& f) {
  return "x = " + num(w.x, f) + " (" + hex(w.pattern, f) + "): got " + num(w.out, f) +
         ", reference " + fmt("%.17g", w.ref);
}

std::string impl_label(Impl impl, const Options& opt) {
  return std::string(impl_name(impl)) + (opt.cuda ? " cuda" : "");
}

std::string describe_patterns(const FormatResult& r, const Options& opt) {
  std::string s = std::to_string(r.patterns) + " inputs (";
  if (r.format->bits == 16 || opt.stride == 1) {
    s += "all 2^" + std::to_string(r.format->bits) + " bit patterns)";
  } else {
    s += "one in every " + std::to_string(opt.stride) + " of the 2^32 bit patterns, plus " +
         std::to_string(r.special_extra) + " special values)";
  }
  return s;
}

void print_cell_row(std::FILE* out, const FormatResult& r, Approximation m, Direction d, Impl impl,
                    const Options& opt) {
  const Format& f = *r.format;
  const Stats& s = r.cell(m, d).impl[impl];
  const bool sub = f.bits == 32 && d == Direction::Forward;
  std::string subcol = "-";
  if (sub && s.subnormal_count > 0) subcol = fmt("%.3g", s.subnormal.value);
  std::string finite = "same";
  if (s.max_ulp_finite.value != s.max_ulp.value) {
    finite = fmt("%.4g", s.max_ulp_finite.value) + " at " + num(s.max_ulp_finite.x, f);
  }
  std::fprintf(
      out, "%-5s %-9s %-13s %10.4g  %-16s %-28s %10llu %10llu %10llu %10s %10.4g  %s\n",
      mode_name(m), direction_name(d), impl_label(impl, opt).c_str(), s.max_ulp.value,
      num(s.max_ulp.x, f).c_str(), finite.c_str(), static_cast<unsigned long long>(s.above_1),
      static_cast<unsigned long long>(s.above_2), static_cast<unsigned long long>(s.above_4),
      subcol.c_str(), s.contract.value, s.meets_contract() ? "meets" : "BREAKS");
}

void print_details(std::FILE* out, const FormatResult& r, Approximation m, Direction d,
                   const Options& opt) {
  const Format& f = *r.format;
  const Cell& c = r.cell(m, d);
  for (Impl impl : {kGeluExt, kNative}) {
    const Stats& s = c.impl[impl];
    const std::string label = std::string(f.name) + " " + mode_name(m) + " " + direction_name(d) +
                              " " + impl_label(impl, opt);
    if (s.violations > 0) {
      std::fprintf(out, "  %s: %llu inputs beyond the contract, worst %.4g x tolerance at %s\n",
                   label.c_str(), static_cast<unsigned long long>(s.violations), s.contract.value,
                   where(s.contract, f).c_str());
    }
    if (s.limit_failures > 0) {
      std::fprintf(out, "  %s: %llu of %llu exact limits fail, first at %s\n", label.c_str(),
                   static_cast<unsigned long long>(s.limit_failures),
                   static_cast<unsigned long long>(s.limits_checked),
                   where(s.first_limit_failure, f).c_str());
    }
  }
  if (opt.cuda) {
    const Agreement& a = c.cpu_vs_cuda;
    const double share = a.compared ? 100.0 * static_cast<double>(a.differ) / a.compared : 0.0;
    std::fprintf(out,
                 "  %s %s %s gelu_ext cpu vs cuda: max %.0f apart (%llu of %llu differ, %.3g%%;"
                 " %llu more than %llu)",
                 f.name, mode_name(m), direction_name(d), a.max_distance.value,
                 static_cast<unsigned long long>(a.differ),
                 static_cast<unsigned long long>(a.compared), share,
                 static_cast<unsigned long long>(a.above_limit),
                 static_cast<unsigned long long>(max_cpu_device_distance(f)));
    if (a.max_distance.value > 0) {
      std::fprintf(out, " at x = %s: cuda %s, cpu %s", num(a.max_distance.x, f).c_str(),
                   num(a.max_distance.out, f).c_str(), num(a.max_distance.ref, f).c_str());
    }
    std::fprintf(out, "\n");
  }
}

void print_specials(std::FILE* out, const FormatReport& rep, const Options& opt) {
  const Format& f = *rep.result.format;
  for (Direction d : opt.directions) {
    std::fprintf(out, "\n%s special values, %s (reference / gelu_ext / native):\n", f.name,
                 direction_name(d));
    std::fprintf(out, "%-16s", "x");
    for (Approximation m : opt.modes) std::fprintf(out, "  %-44s", mode_name(m));
    std::fprintf(out, "\n");
    for (const SpecialRow& row : rep.specials) {
      std::fprintf(out, "%-16s", num(row.x, f).c_str());
      for (Approximation m : opt.modes) {
        const auto& v = row.value[static_cast<int>(m)][static_cast<int>(d)];
        std::fprintf(out, "  %-14s %-14s %-14s", num(v[0], f).c_str(), num(v[1], f).c_str(),
                     num(v[2], f).c_str());
      }
      std::fprintf(out, "\n");
    }
  }
}

}  // namespace

void print_text(std::FILE* out, const RunInfo& info, const Options& opt,
                const std::vector<FormatReport>& reports) {
  std::fprintf(out, "gelu_ext %s accuracy sweep (torch %s), device %s, gelu_ext CPU path %s\n",
               info.gelu_ext_version.c_str(), info.torch_version.c_str(), info.device.c_str(),
               info.simd.c_str());
  std::fprintf(out,
               "errors against a float64 reference (long double near the root of f'), in ulps "
               "of the output type at the reference value\n");
  if (opt.inject_ulps != 0) {
    std::fprintf(out, "TESTING THE TOOL: %g ulp added to every finite gelu_ext result\n",
                 opt.inject_ulps);
  }
  for (const FormatReport& rep : reports) {
    const FormatResult& r = rep.result;
    const Format& f = *r.format;
    std::fprintf(out, "\n== %s: %s ==\n", f.name, describe_patterns(r, opt).c_str());
    if (f.bits == 32) {
      std::fprintf(out,
                   "contract: forward <= 3 ulp where the reference is normal, <= 8 * 2^-149 where "
                   "it is subnormal; backward <= 4 ulp + 2^-26; exact limits\n");
    } else {
      std::fprintf(out, "contract: <= 1 ulp of %s; exact limits\n", f.name);
    }
    std::fprintf(out, "%-5s %-9s %-13s %10s  %-16s %-28s %10s %10s %10s %10s %10s  %s\n", "mode",
                 "direction", "impl", "max ulp", "at x", "max ulp, finite results", ">1 ulp",
                 ">2 ulp", ">4 ulp", "sub 2^-149", "err/tol", "contract");
    for (Approximation m : opt.modes) {
      for (Direction d : opt.directions) {
        for (Impl impl : {kGeluExt, kNative}) print_cell_row(out, r, m, d, impl, opt);
      }
    }
    for (Approximation m : opt.modes) {
      for (Direction d : opt.directions) print_details(out, r, m, d, opt);
    }
    uint64_t checked = 0;
    for (Approximation m : opt.modes) {
      for (Direction d : opt.directions) checked += r.cell(m, d).ref_checked;
    }
    std::fprintf(out, "reference check: double vs long double on %llu values, max %.3g ulp\n",
                 static_cast<unsigned long long>(checked), reference_check_max(r, opt));
    print_specials(out, rep, opt);
  }
}

// ---------------------------------------------------------------------------
// JSON
// ---------------------------------------------------------------------------
namespace {

// Non-finite numbers are not JSON: written as strings.
std::string jnum(double v) {
  if (std::isnan(v)) return "\"nan\"";
  if (std::isinf(v)) return v > 0 ? "\"inf\"" : "\"-inf\"";
  if (v == 0) return std::signbit(v) ? "-0.0" : "0.0";  // keeps the sign through parsers
  return fmt("%.17g", v);
}

std::string jworst(const Worst& w, const Format& f) {
  if (w.value < 0) return "null";
  return "{\"value\": " + jnum(w.value) + ", \"x\": " + jnum(w.x) + ", \"bits\": \"" +
         hex(w.pattern, f) + "\", \"out\": " + jnum(w.out) + ", \"ref\": " + jnum(w.ref) + "}";
}

std::string jstats(const Stats& s, const Format& f) {
  std::ostringstream o;
  o << "{\"finite_inputs\": " << s.finite << ", \"ulp_inputs\": " << s.ulp_count
    << ", \"max_ulp\": " << jworst(s.max_ulp, f)
    << ", \"max_ulp_finite_result\": " << jworst(s.max_ulp_finite, f)
    << ", \"above_1_ulp\": " << s.above_1 << ", \"above_2_ulp\": " << s.above_2
    << ", \"above_4_ulp\": " << s.above_4 << ", \"subnormal_inputs\": " << s.subnormal_count
    << ", \"subnormal_max_abs_2^-149\": " << jworst(s.subnormal, f)
    << ", \"contract_worst_error_over_tolerance\": " << jworst(s.contract, f)
    << ", \"contract_violations\": " << s.violations << ", \"limits_checked\": " << s.limits_checked
    << ", \"limit_failures\": " << s.limit_failures
    << ", \"first_limit_failure\": " << jworst(s.first_limit_failure, f)
    << ", \"meets_contract\": " << (s.meets_contract() ? "true" : "false") << "}";
  return o.str();
}

}  // namespace

bool write_json(const std::string& path, const RunInfo& info, const Options& opt,
                const std::vector<FormatReport>& reports) {
  std::ostringstream o;
  o << "{\n  \"tool\": \"gelu_ext_accuracy\", \"gelu_ext_version\": \"" << info.gelu_ext_version
    << "\", \"torch_version\": \"" << info.torch_version << "\", \"device\": \"" << info.device
    << "\", \"cpu_simd_path\": \"" << info.simd << "\", \"threads\": " << opt.threads
    << ", \"stride\": " << opt.stride << ", \"inject_ulps\": " << jnum(opt.inject_ulps)
    << ", \"seconds\": " << jnum(info.seconds) << ",\n  \"formats\": [";
  bool all_met = true;
  for (size_t k = 0; k < reports.size(); ++k) {
    const FormatResult& r = reports[k].result;
    const Format& f = *r.format;
    all_met = all_met && meets_contract(r, opt);
    o << (k ? ",\n" : "\n") << "   {\"dtype\": \"" << f.name << "\", \"inputs\": " << r.patterns
      << ", \"meets_contract\": " << (meets_contract(r, opt) ? "true" : "false")
      << ", \"cells\": [";
    bool first = true;
    for (Approximation m : opt.modes) {
      for (Direction d : opt.directions) {
        const Cell& c = r.cell(m, d);
        o << (first ? "\n" : ",\n") << "     {\"mode\": \"" << mode_name(m)
          << "\", \"direction\": \"" << direction_name(d) << "\"";
        first = false;
        for (Impl impl : {kGeluExt, kNative}) {
          o << ",\n      \"" << impl_name(impl) << "\": " << jstats(c.impl[impl], f);
        }
        if (opt.cuda) {
          o << ",\n      \"gelu_ext_cpu_vs_cuda\": {\"compared\": " << c.cpu_vs_cuda.compared
            << ", \"differ\": " << c.cpu_vs_cuda.differ
            << ", \"limit\": " << max_cpu_device_distance(f)
            << ", \"above_limit\": " << c.cpu_vs_cuda.above_limit
            << ", \"max_distance\": " << jworst(c.cpu_vs_cuda.max_distance, f) << "}";
        }
        o << ",\n      \"reference_check\": {\"checked\": " << c.ref_checked
          << ", \"max_ulp\": " << jworst(c.ref_check, f) << "}}";
      }
    }
    o << "],\n    \"special_values\": [";
    for (size_t i = 0; i < reports[k].specials.size(); ++i) {
      const SpecialRow& row = reports[k].specials[i];
      o << (i ? ",\n" : "\n") << "     {\"x\": " << jnum(row.x) << ", \"bits\": \""
        << hex(row.pattern, f) << "\"";
      for (Approximation m : opt.modes) {
        for (Direction d : opt.directions) {
          const auto& v = row.value[static_cast<int>(m)][static_cast<int>(d)];
          o << ", \"" << mode_name(m) << "_" << direction_name(d)
            << "\": {\"reference\": " << jnum(v[0]) << ", \"gelu_ext\": " << jnum(v[1])
            << ", \"native\": " << jnum(v[2]) << "}";
        }
      }
      o << "}";
    }
    o << "]}";
  }
  o << "\n  ],\n  \"meets_contract\": " << (all_met ? "true" : "false") << "\n}\n";
  std::ofstream file(path);
  file << o.str();
  return static_cast<bool>(file.flush());
}

}  // namespace gelu_ext_accuracy
