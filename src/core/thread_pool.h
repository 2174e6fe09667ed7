// ThreadPool: a persistent pool of worker threads for data-parallel kernels; no thread is created per op.
// NOTE: hand-written because kernels call it thousands of times per second with microsecond bodies;
// std::async or a task queue would cost more than the work.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace serval {

class ThreadPool {
 public:
  // num_threads counts the calling thread: a pool of 2 starts 1 worker. 0 means "all cores".
  explicit ThreadPool(int num_threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int num_threads() const { return num_threads_; }

  // Calls fn(thread_index) once on each of num_threads() threads (the caller is index 0) and returns
  // when all have finished. Calls from different threads run one after the other.
  // PRECONDITION: not called re-entrantly from inside fn (that would deadlock).
  void run(const std::function<void(int)>& fn);

  // Splits [0, n) into contiguous chunks, at most one per thread, and calls fn(begin, end).
  void parallel_for(int64_t n, const std::function<void(int64_t, int64_t)>& fn);

  // Splits [0, n) into chunks of `grain` (the last may be shorter) that the threads claim in order until
  // none is left, calling fn(begin, end) for each; a thread may run several chunks. Unlike parallel_for
  // this keeps every thread busy when some run slower (cores shared with other processes).
  void parallel_for_dynamic(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

 private:
  void worker_loop(int index);

  int num_threads_;
  std::vector<std::thread> workers_;
  const std::function<void(int)>* job_ = nullptr;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> remaining_{0};
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::mutex caller_mutex_;  // serializes run() across calling threads
  std::condition_variable wake_;
};

// The process-wide pool used by the CPU kernels; sized by set_num_threads() before first use.
ThreadPool& global_thread_pool();
// Sets the size of the global pool (0 = all cores). Only effective before the first global_thread_pool() call.
void set_num_threads(int num_threads);

}  // namespace serval
