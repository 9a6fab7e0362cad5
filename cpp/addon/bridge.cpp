#include "addon/bridge.h"

#include <utility>

namespace ovis::addon {

std::shared_ptr<Bridge> Bridge::create(Napi::Env env, Napi::Object owner, std::function<void()> on_worker_exit) {
  std::shared_ptr<Bridge> bridge(new Bridge(env, owner, std::move(on_worker_exit)));
  // The thread-safe function co-owns the Bridge: deliveries still queued may run after the owner is gone.
  auto* keep_alive = new std::shared_ptr<Bridge>(bridge);
  bridge->tsfn_ = Tsfn::New(
      env, "ovis-image engine", 0 /* unbounded: the worker never waits on JS */, 1, bridge.get(),
      [](Napi::Env, std::shared_ptr<Bridge>* self, Bridge*) {
        (*self)->tsfn_closed_ = true;
        delete self;
      },
      keep_alive);
  bridge->tsfn_.Unref(env);  // idle: do not keep the process alive
  // Registered after the thread-safe function, so at teardown this hook runs first (hooks run in
  // reverse order) and joins the worker while the function still exists.
  if (napi_add_env_cleanup_hook(env, &Bridge::on_env_teardown, bridge.get()) == napi_ok) {
    bridge->hook_registered_ = true;
  }
  return bridge;
}

Bridge::Bridge(Napi::Env env, Napi::Object owner, std::function<void()> on_worker_exit)
    : env_(env), owner_(Napi::Weak(owner)), on_worker_exit_(std::move(on_worker_exit)), worker_([this] {
        if (on_worker_exit_) on_worker_exit_();
        if (!torn_down_) post([this](Napi::Env e) { on_worker_exited(e); });
      }) {}

Bridge::~Bridge() {
  worker_.stop();
  worker_.join();
}

void Bridge::call_js(Napi::Env env, Napi::Function, Bridge*, Delivery* delivery) {
  std::unique_ptr<Delivery> owned(delivery);
  if (static_cast<napi_env>(env) == nullptr) return;  // teardown: drop it
  try {
    owned->run(env);
  } catch (...) {
    // Nothing may escape into Node; settle() handles its own errors, this is a last guard.
  }
}

bool Bridge::post(std::function<void(Napi::Env)> run) {
  if (tsfn_closed_) return false;
  auto* delivery = new Delivery{std::move(run)};
  if (tsfn_.NonBlockingCall(delivery) != napi_ok) {
    delete delivery;
    return false;
  }
  return true;
}

Napi::Promise Bridge::rejected(Napi::Env env, const Failure& failure) {
  auto deferred = Napi::Promise::Deferred::New(env);
  deferred.Reject(to_js_error(env, failure).Value());
  return deferred.Promise();
}

Napi::Promise Bridge::enqueue(Napi::Env env, Work work, Napi::Value on_step) {
  if (disposed_) return rejected(env, {"OVIS_DISPOSED", "the engine was disposed"});
  const uint64_t id = next_id_++;
  PendingCall call{Napi::Promise::Deferred::New(env), {}, {}};
  if (on_step.IsFunction()) call.on_step = Napi::Persistent(on_step.As<Napi::Function>());
  Napi::Promise promise = call.deferred.Promise();

  Worker::Job job;
  job.id = id;
  job.run = [this, id, work = std::move(work)](const CancelFlag& cancel) {
    JobContext context{cancel, [this, id](MakeValue event) {
                         post([this, id, event = std::move(event)](Napi::Env e) { deliver_step(e, id, event); });
                       }};
    Outcome outcome;
    try {
      outcome.value = work(context);
    } catch (...) {
      outcome.failure = describe_current_exception();
    }
    post([this, id, outcome = std::move(outcome)](Napi::Env e) mutable { settle(e, id, std::move(outcome)); });
  };
  calls_.emplace(id, std::move(call));
  add_pending(env);
  if (!worker_.post(std::move(job))) {
    settle(env, id, Outcome{nullptr, {"OVIS_DISPOSED", "the engine was disposed"}});
  }
  return promise;
}

void Bridge::deliver_step(Napi::Env env, uint64_t id, const MakeValue& event) {
  auto it = calls_.find(id);
  if (it == calls_.end() || it->second.on_step.IsEmpty() || !it->second.step_error.IsEmpty()) return;
  Napi::HandleScope scope(env);
  try {
    it->second.on_step.Call({event(env)});
  } catch (const Napi::Error& e) {
    // A throwing onStep stops the call; its promise rejects with what was thrown.
    it = calls_.find(id);
    if (it != calls_.end()) {
      it->second.step_error = e;
      worker_.cancel_running(id);
    }
  } catch (...) {
  }
}

void Bridge::settle(Napi::Env env, uint64_t id, Outcome outcome) {
  auto it = calls_.find(id);
  if (it == calls_.end()) return;
  PendingCall call = std::move(it->second);
  calls_.erase(it);
  Napi::HandleScope scope(env);
  if (!call.step_error.IsEmpty()) {
    call.deferred.Reject(call.step_error.Value());
  } else if (outcome.value) {
    try {
      call.deferred.Resolve(outcome.value(env));
    } catch (...) {
      call.deferred.Reject(to_js_error(env, describe_current_exception()).Value());
    }
  } else {
    if (disposed_ && outcome.failure.code == "ABORT_ERR") {
      outcome.failure = {"OVIS_DISPOSED", "the engine was disposed while this call was running"};
    }
    call.deferred.Reject(to_js_error(env, outcome.failure).Value());
  }
  release_pending(env);
}

void Bridge::cancel() {
  if (!disposed_) worker_.cancel();
}

Napi::Promise Bridge::dispose(Napi::Env env) {
  auto deferred = Napi::Promise::Deferred::New(env);
  if (exited_) {
    deferred.Resolve(env.Undefined());
    return deferred.Promise();
  }
  dispose_waiters_.push_back(deferred);
  if (disposed_) return deferred.Promise();
  disposed_ = true;
  add_pending(env);  // the dispose itself: keeps Node alive until the worker has ended
  for (Worker::Job& job : worker_.stop()) {
    settle(env, job.id, Outcome{nullptr, {"OVIS_DISPOSED", "the engine was disposed before this call started"}});
  }
  return deferred.Promise();
}

void Bridge::on_worker_exited(Napi::Env env) {
  if (exited_ || torn_down_) return;
  worker_.join();  // the thread has finished its last statement or is about to
  exited_ = true;
  remove_cleanup_hook();
  Napi::HandleScope scope(env);
  std::vector<Napi::Promise::Deferred> waiters = std::move(dispose_waiters_);
  for (auto& w : waiters) w.Resolve(env.Undefined());
  if (disposed_) release_pending(env);
  if (!tsfn_released_) {
    tsfn_released_ = true;
    tsfn_.Release();
  }
}

void Bridge::shutdown_from_finalizer() {
  if (!torn_down_) {
    worker_.stop();
    worker_.join();
    remove_cleanup_hook();
    if (!tsfn_released_ && !tsfn_closed_) {
      tsfn_released_ = true;
      tsfn_.Release();
    }
  }
  exited_ = true;
  owner_.Reset();
}

void Bridge::add_pending(Napi::Env env) {
  if (pending_++ == 0) {
    if (!tsfn_released_) tsfn_.Ref(env);
    if (!owner_.IsEmpty()) owner_.Ref();
  }
}

void Bridge::release_pending(Napi::Env env) {
  if (pending_ == 0) return;
  if (--pending_ == 0) {
    if (!tsfn_released_) tsfn_.Unref(env);
    if (!owner_.IsEmpty()) owner_.Unref();
  }
}

void Bridge::remove_cleanup_hook() {
  if (hook_registered_) {
    hook_registered_ = false;
    napi_remove_env_cleanup_hook(env_, &Bridge::on_env_teardown, this);
  }
}

void Bridge::on_env_teardown(void* arg) {
  auto* self = static_cast<Bridge*>(arg);
  self->hook_registered_ = false;
  self->torn_down_ = true;
  // Promises can no longer settle; stop the worker (cancelling any running call) and wait for it.
  self->worker_.stop();
  self->worker_.join();
  self->exited_ = true;
  self->calls_.clear();
  self->dispose_waiters_.clear();
  self->owner_.Reset();
}

}  // namespace ovis::addon
