// The JS-thread side of one engine's worker thread: the promises of queued calls, delivery of results
// and step events through one thread-safe function, keeping Node alive only while calls are pending,
// dispose, and cleanup at environment teardown.
//
// Ownership: the Bridge is shared by its JS object (EngineWrap) and its thread-safe function, so it
// outlives every delivery still queued. Worker jobs only hold a raw pointer: the worker is joined
// before the Bridge can go away. N-API objects are touched on the JS thread only.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <unordered_map>
#include <vector>

#include <napi.h>

#include "addon/errors.h"
#include "addon/worker.h"

namespace ovis::addon {

class Bridge {
 public:
  // Builds a JS value on the JS thread from C++ data computed on the worker.
  using MakeValue = std::function<Napi::Value(Napi::Env)>;
  // What a job sees on the worker thread.
  struct JobContext {
    const CancelFlag& cancel;
    // Sends a step event to the call's onStep callback; never blocks, dropped when there is none.
    std::function<void(MakeValue)> emit_step;
  };
  using Work = std::function<MakeValue(JobContext&)>;

  // owner: the JS object kept alive while calls are pending. on_worker_exit runs on the worker thread
  // after its last job (it frees the engine there).
  static std::shared_ptr<Bridge> create(Napi::Env env, Napi::Object owner, std::function<void()> on_worker_exit);
  ~Bridge();
  Bridge(const Bridge&) = delete;
  Bridge& operator=(const Bridge&) = delete;

  // Queues work and returns its promise; rejects with OVIS_DISPOSED after dispose().
  Napi::Promise enqueue(Napi::Env env, Work work, Napi::Value on_step);
  // A promise already rejected with this failure (argument errors of async methods).
  static Napi::Promise rejected(Napi::Env env, const Failure& failure);
  // Cancels the running call (or, when none runs yet, the next one to start).
  void cancel();
  // Cancels the running call, rejects queued ones with OVIS_DISPOSED, ends the worker and frees the
  // engine; resolves when all of that is done. Idempotent.
  Napi::Promise dispose(Napi::Env env);
  bool disposed() const { return disposed_; }
  // For the owner's finalizer: stops and joins the worker now (it is idle: pending calls keep the owner alive).
  void shutdown_from_finalizer();

 private:
  struct Outcome {
    MakeValue value;  // set on success
    Failure failure;  // set otherwise
  };
  struct PendingCall {
    Napi::Promise::Deferred deferred;
    Napi::FunctionReference on_step;
    Napi::Error step_error;  // what onStep threw (the call is then cancelled and rejects with it)
  };
  // One unit of JS-thread work carried through the thread-safe function.
  struct Delivery {
    std::function<void(Napi::Env)> run;
  };
  static void call_js(Napi::Env env, Napi::Function unused, Bridge* bridge, Delivery* delivery);
  using Tsfn = Napi::TypedThreadSafeFunction<Bridge, Delivery, &Bridge::call_js>;
  static void on_env_teardown(void* arg);

  Bridge(Napi::Env env, Napi::Object owner, std::function<void()> on_worker_exit);
  // Worker thread (or any thread): queues a delivery; false when the JS side is gone.
  bool post(std::function<void(Napi::Env)> run);
  void settle(Napi::Env env, uint64_t id, Outcome outcome);
  void deliver_step(Napi::Env env, uint64_t id, const MakeValue& event);
  void on_worker_exited(Napi::Env env);
  void add_pending(Napi::Env env);
  void release_pending(Napi::Env env);
  void remove_cleanup_hook();

  napi_env env_;
  Tsfn tsfn_;
  Napi::ObjectReference owner_;  // weak unless calls are pending
  std::unordered_map<uint64_t, PendingCall> calls_;
  std::vector<Napi::Promise::Deferred> dispose_waiters_;
  uint64_t next_id_ = 1;
  size_t pending_ = 0;     // calls (and a dispose) not yet settled
  bool disposed_ = false;  // dispose() called
  bool exited_ = false;    // the worker ended and was joined
  bool tsfn_released_ = false;
  bool hook_registered_ = false;
  std::atomic<bool> torn_down_{false};  // the environment is shutting down
  std::atomic<bool> tsfn_closed_{false};
  std::function<void()> on_worker_exit_;
  Worker worker_;  // last: its thread starts once everything above exists, and is joined first
};

}  // namespace ovis::addon
