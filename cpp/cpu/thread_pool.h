// ThreadPool: a fixed set of workers owned by one CpuBackend; parallel_for with dynamic scheduling.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace ovis::cpu {

class ThreadPool {
 public:
  // threads = total threads including the caller; 0 = std::thread::hardware_concurrency().
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return threads_; }
  // Runs fn(i) for i in [0, n) across the workers and the caller; returns when all are done.
  // Rethrows the first exception a task threw. Nested calls (from inside a task) run serially.
  void parallel_for(int64_t n, const std::function<void(int64_t)>& fn);
  // Splits [0, n) into chunks of at least `grain` and runs fn(begin, end) on them.
  void parallel_range(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

 private:
  void worker_loop();
  void run_tasks();

  int threads_;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::mutex call_mu_;  // one parallel_for at a time per pool
  std::condition_variable wake_;
  std::condition_variable done_cv_;
  uint64_t generation_ = 0;
  bool stop_ = false;
  int busy_ = 0;
  const std::function<void(int64_t)>* job_ = nullptr;
  int64_t job_n_ = 0;
  std::atomic<int64_t> next_{0};
  std::exception_ptr error_;
};

}  // namespace ovis::cpu
