// How OpenMP threads wait between parallel regions. GNU OpenMP (which oneDNN is built with here, so it runs every
// GEMM and every loop of ours) spins by default: 300,000 busy iterations before a waiting thread sleeps. On an idle
// machine that saves a wake-up per region; on a shared one the spinning thread holds a core that the other thread
// of the same barrier needs, and ViT-Tiny at 2 threads fell from 70-100 to 3.4 images/s under a load of 10.
//
// GOMP reads its settings once, in a constructor of libgomp.so, and setenv() cannot reach it: main() is too late,
// and during the executable's .preinit_array (which runs before every library constructor) glibc's environ is not
// set up yet and is replaced by the kernel's environment right after. So the hook below re-executes the program
// once, from .preinit_array (before any library has started threads or done work), with the default added to its
// environment. A policy the user chose (OMP_WAIT_POLICY or GOMP_SPINCOUNT set) is left alone, and so is a process
// without /proc or one started through the dynamic loader. bench/wait_policy.sh measures the choice.
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <cstring>
#include <string>

#include "fqvit/core/parallel.h"

namespace fqvit {

namespace {

// Waiting threads sleep at once (GOMP_SPINCOUNT 0). Measured with bench/wait_policy.sh, ViT-Tiny FP32 at 2 threads
// under a load average of about 10 from other jobs, images/s at batch 1 / 8 without and with two more busy
// processes: passive 31 / 62 and 26 / 48; spin 1,000: 23 / 31 and 6 / 65; spin 10,000: 27 / 17 and 3.7 / 20; GNU's
// default spin 300,000: 4.2 / 5.8 and 0.4 / 1.0. Any spinning makes a figure depend on who else runs; sleeping
// costs a futex wake-up per parallel region on an idle machine (bench/wait_policy.sh measures that too).
char kPolicyEntry[] = "OMP_WAIT_POLICY=passive";
// Marks a process (and its children) whose policy fqvit chose, for thread_wait_policy().
char kMarkerEntry[] = "FQVIT_WAIT_POLICY=default";
constexpr size_t kMaxEnvironment = 4096;  // entries; a larger environment keeps GNU OpenMP's default

bool starts_with(const char* entry, const char* prefix) { return std::strncmp(entry, prefix, std::strlen(prefix)) == 0; }

// Runs before libc and libgomp are initialized: only the arguments and plain memory may be used, no malloc.
void choose_wait_policy(int /*argc*/, char** argv, char** envp) {
  static std::array<char*, kMaxEnvironment> environment;
  size_t n = 0;
  for (; envp != nullptr && envp[n] != nullptr; ++n) {
    if (starts_with(envp[n], "OMP_WAIT_POLICY=") || starts_with(envp[n], "GOMP_SPINCOUNT=")) return;
    if (n + 3 > environment.size()) return;
    environment[n] = envp[n];
  }
  // Started through the dynamic loader (`ld-linux-x86-64.so.2 ./tool`), /proc/self/exe is the loader, which would
  // read the tool's arguments as a program name: keep GNU OpenMP's default there.
  static std::array<char, 4096> exe;
  const ssize_t len = readlink("/proc/self/exe", exe.data(), exe.size() - 1);
  if (len <= 0) return;
  exe[static_cast<size_t>(len)] = '\0';
  if (std::strstr(exe.data(), "/ld-linux") != nullptr || std::strstr(exe.data(), "/ld.so") != nullptr) return;
  environment[n] = kPolicyEntry;
  environment[n + 1] = kMarkerEntry;
  environment[n + 2] = nullptr;
  execve("/proc/self/exe", argv, environment.data());  // returns only on failure: carry on with the default
}

// Only an executable's .preinit_array runs before shared libraries' constructors; this object is linked into every
// executable that calls set_num_threads (parallel.cc refers to thread_wait_policy).
[[gnu::used, gnu::section(".preinit_array")]] void (*const preinit_wait_policy)(int, char**, char**) =
    &choose_wait_policy;

}  // namespace

std::string thread_wait_policy() {
  std::string policy;
  for (const char* name : {"OMP_WAIT_POLICY", "GOMP_SPINCOUNT"}) {
    const char* value = std::getenv(name);
    if (value == nullptr) continue;
    if (!policy.empty()) policy += ' ';
    policy.append(name).append("=").append(value);
  }
  if (policy.empty()) return "GNU OpenMP default (GOMP_SPINCOUNT=300000)";
  const char* marker = std::getenv("FQVIT_WAIT_POLICY");
  return policy + (marker != nullptr && std::strcmp(marker, "default") == 0 ? " (fqvit default)" : " (environment)");
}

}  // namespace fqvit
