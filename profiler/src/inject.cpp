// libstrata_inject.so: profiles an unmodified CUDA program. Load it with
//   CUDA_INJECTION64_PATH=/abs/path/libstrata_inject.so [NVTX_INJECTION64_PATH=<the libcupti it uses>]
// The driver calls InitializeInjection() inside cuInit. At exit the library writes, per process,
//   $STRATA_PROFILE_OUT/strata-kernels-PID.csv  every kernel, memcpy and memset with its NVTX op
//   $STRATA_PROFILE_OUT/strata-calls-PID.csv    each NVTX op call with its summed kernel time
// `strata-profile from-calls` turns the calls into an op table (docs/op-tables.md). The library
// links only CUPTI and strata's trace code, nothing that could disturb the profiled program.

#include <dlfcn.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include <cupti.h>

#include "strata/profiler/recorder.hpp"
#include "strata/profiler/trace.hpp"

namespace {

std::string env(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::string(v) : fallback;
}

void write_outputs() {
  using namespace strata;
  profiler::TraceData t = profiler::stop_recording();
  const auto attributed = profiler::attribute(t);
  const std::string dir = env("STRATA_PROFILE_OUT", ".");
  const std::string pid = std::to_string(::getpid());
  std::ofstream(dir + "/strata-kernels-" + pid + ".csv") << profiler::kernels_csv(t, attributed);
  const auto calls = profiler::op_calls(attributed);
  std::ofstream(dir + "/strata-calls-" + pid + ".csv") << profiler::op_calls_csv(calls);
  std::fprintf(stderr, "strata-inject: %zu kernels, %zu NVTX markers, %llu dropped records, %zu op calls -> %s (%s)\n",
               t.kernels.size(), t.markers.size(), static_cast<unsigned long long>(t.dropped), calls.size(),
               dir.c_str(), profiler::cupti_version_line().c_str());
}

}  // namespace

extern "C" int InitializeInjection(void) {
  // NVTX reaches CUPTI only through NVTX_INJECTION64_PATH naming the libcupti already mapped here
  // (a second copy gets no markers); set it if the user did not, before the first NVTX call.
  if (std::getenv("NVTX_INJECTION64_PATH") == nullptr) {
    Dl_info info{};
    if (dladdr(reinterpret_cast<void*>(&cuptiActivityEnable), &info) != 0 && info.dli_fname != nullptr)
      setenv("NVTX_INJECTION64_PATH", info.dli_fname, 0);
  }
  strata::profiler::RecorderOptions o;
  const std::string err = strata::profiler::start_recording(o);
  std::fprintf(stderr, "strata-inject: %s%s%s\n", strata::profiler::cupti_version_line().c_str(),
               err.empty() ? "" : "; cannot record: ", err.c_str());
  if (!err.empty()) return 0;
  std::atexit(write_outputs);
  return 1;
}
