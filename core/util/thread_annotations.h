// SPDX-License-Identifier: MIT
// Clang thread-safety annotations (https://clang.llvm.org/docs/ThreadSafetyAnalysis.html)
// spelled IMGFS_*. Under Clang with -Wthread-safety they make lock rules
// compile-time checks: a member marked IMGFS_GUARDED_BY(mu_) read or written
// without mu_ held is a warning (an error with IMGFS_WERROR). Other compilers
// see nothing. They only work on a type that is itself annotated as a
// capability: libstdc++'s std::mutex is not, so guarded data is guarded by an
// imgfs::Mutex (core/util/mutex.h).
#pragma once

#if defined(__clang__)
#define IMGFS_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define IMGFS_THREAD_ANNOTATION(x)
#endif

// On a class: objects of it are locks ("mutex" names the kind in messages).
#define IMGFS_CAPABILITY(name) IMGFS_THREAD_ANNOTATION(capability(name))
// On a class: an RAII object that holds a capability for its lifetime.
#define IMGFS_SCOPED_CAPABILITY IMGFS_THREAD_ANNOTATION(scoped_lockable)

// On a data member: read and written only with `mu` held.
#define IMGFS_GUARDED_BY(mu) IMGFS_THREAD_ANNOTATION(guarded_by(mu))
// On a pointer member: the pointee is read and written only with `mu` held.
#define IMGFS_PT_GUARDED_BY(mu) IMGFS_THREAD_ANNOTATION(pt_guarded_by(mu))

// On a function: callers must hold the capabilities (exclusively / shared).
#define IMGFS_REQUIRES(...) IMGFS_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define IMGFS_REQUIRES_SHARED(...) IMGFS_THREAD_ANNOTATION(requires_shared_capability(__VA_ARGS__))
// On a function: callers must not hold them (it takes them itself).
#define IMGFS_EXCLUDES(...) IMGFS_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))

// On a function: it takes / gives back the capability (no argument: `this`).
#define IMGFS_ACQUIRE(...) IMGFS_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define IMGFS_ACQUIRE_SHARED(...) IMGFS_THREAD_ANNOTATION(acquire_shared_capability(__VA_ARGS__))
#define IMGFS_RELEASE(...) IMGFS_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define IMGFS_RELEASE_SHARED(...) IMGFS_THREAD_ANNOTATION(release_shared_capability(__VA_ARGS__))
// On a function: takes the capability when it returns `result` (true/false).
#define IMGFS_TRY_ACQUIRE(...) IMGFS_THREAD_ANNOTATION(try_acquire_capability(__VA_ARGS__))
// On a function: checks at run time that the capability is held, and tells
// the analysis so from there on.
#define IMGFS_ASSERT_CAPABILITY(x) IMGFS_THREAD_ANNOTATION(assert_capability(x))
// On a function returning a reference to a capability.
#define IMGFS_RETURN_CAPABILITY(x) IMGFS_THREAD_ANNOTATION(lock_returned(x))

// On a function the analysis cannot follow; say why next to it.
#define IMGFS_NO_THREAD_SAFETY_ANALYSIS IMGFS_THREAD_ANNOTATION(no_thread_safety_analysis)
