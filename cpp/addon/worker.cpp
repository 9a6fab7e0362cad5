#include "addon/worker.h"

#include <utility>

namespace ovis::addon {

Worker::Worker(std::function<void()> on_exit) : on_exit_(std::move(on_exit)), thread_([this] { loop(); }) {}

Worker::~Worker() {
  stop();
  join();
}

bool Worker::post(Job job) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) return false;
    queue_.push_back(std::move(job));
  }
  wake_.notify_one();
  return true;
}

void Worker::cancel() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (running_id_ != 0) {
    cancel_target_ = running_id_;
    cancel_.store(true);
  } else if (!queue_.empty()) {
    cancel_target_ = queue_.front().id;
  }
}

void Worker::cancel_running(uint64_t id) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (id != 0 && running_id_ == id) {
    cancel_target_ = id;
    cancel_.store(true);
  }
}

std::vector<Worker::Job> Worker::stop() {
  std::vector<Job> dropped;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    if (running_id_ != 0) {
      cancel_target_ = running_id_;
      cancel_.store(true);
    }
    dropped.assign(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.end()));
    queue_.clear();
  }
  wake_.notify_one();
  return dropped;
}

void Worker::join() {
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

bool Worker::stopping() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stopping_;
}

void Worker::loop() {
  for (;;) {
    Job job;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) break;  // stopping and nothing left
      job = std::move(queue_.front());
      queue_.pop_front();
      running_id_ = job.id;
      cancel_.store(cancel_target_ == job.id);
    }
    // Jobs report their own errors; this guard only keeps a stray exception from ending the process.
    try {
      job.run(cancel_);
    } catch (...) {
    }
    job.run = nullptr;  // free captured inputs on this thread, before looking for the next job
    std::lock_guard<std::mutex> lock(mutex_);
    running_id_ = 0;
    cancel_.store(false);
  }
  if (on_exit_) on_exit_();
}

}  // namespace ovis::addon
