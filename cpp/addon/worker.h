// One background thread that runs jobs one at a time in FIFO order, with a cancel flag.
// Knows nothing about Node: the addon posts closures and gets results back its own way.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "engine.h"

namespace ovis::addon {

class Worker {
 public:
  struct Job {
    uint64_t id = 0;  // increasing; identifies the job for cancel()
    std::function<void(const CancelFlag& cancel)> run;
  };

  // on_exit runs on the worker thread after its last job, just before the thread ends.
  explicit Worker(std::function<void()> on_exit);
  ~Worker();  // stop() + join()
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Queues a job; false once stop() was called.
  bool post(Job job);
  // Cancels the oldest unfinished job: the running one, or else the next to start. The flag is
  // cleared when a job that was not cancelled starts, so a stale cancel never hits a later job.
  void cancel();
  // Cancels job `id` if it is running now (a no-op once it has finished).
  void cancel_running(uint64_t id);
  // Stops taking jobs, cancels the running one and hands back the queued ones, which never run.
  // The thread then finishes its current job, calls on_exit and ends. Idempotent.
  std::vector<Job> stop();
  // Waits for the thread to end (after stop()). Idempotent; never call from a job.
  void join();
  bool stopping() const;

 private:
  void loop();

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Job> queue_;
  bool stopping_ = false;
  uint64_t running_id_ = 0;     // 0 when idle
  uint64_t cancel_target_ = 0;  // job id to cancel when it starts (or is running)
  CancelFlag cancel_{false};
  std::function<void()> on_exit_;
  std::thread thread_;  // last: starts after every other member exists
};

}  // namespace ovis::addon
