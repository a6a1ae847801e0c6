// Clang's thread-safety attributes (https://clang.llvm.org/docs/ThreadSafetyAnalysis.html),
// checked at compile time by -Wthread-safety in the clang build; other compilers ignore
// them. A member marked IMGBATCH_GUARDED_BY(mutex_) may only be touched with mutex_ held,
// a function marked IMGBATCH_REQUIRES(mutex_) only called with it held: a forgotten lock
// becomes a compile error instead of a rare race. core/mutex.hpp has the annotated mutex
// to use them with (libstdc++'s std::mutex carries no annotations). Only what is used is
// defined; the clang documentation lists the others.
#pragma once

#if defined(__clang__)
#define IMGBATCH_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define IMGBATCH_THREAD_ANNOTATION(x)
#endif

#define IMGBATCH_CAPABILITY(x) IMGBATCH_THREAD_ANNOTATION(capability(x))
#define IMGBATCH_SCOPED_CAPABILITY IMGBATCH_THREAD_ANNOTATION(scoped_lockable)
#define IMGBATCH_GUARDED_BY(x) IMGBATCH_THREAD_ANNOTATION(guarded_by(x))
#define IMGBATCH_REQUIRES(...) IMGBATCH_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define IMGBATCH_EXCLUDES(...) IMGBATCH_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
#define IMGBATCH_ACQUIRE(...) IMGBATCH_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define IMGBATCH_RELEASE(...) IMGBATCH_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
