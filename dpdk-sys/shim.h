/* Hand-written shims for what bindgen cannot reach: macros that expand to
 * thread-local storage or to statement expressions. Everything that is a
 * plain static inline function is wrapped by bindgen's wrap_static_fns. */
#ifndef FERROVS_SHIM_H
#define FERROVS_SHIM_H

/* rte_errno is a per-lcore thread-local variable behind a macro. */
int ferrovs_rte_errno(void);

/* The DPDK version string (a macro-built static inline in rte_version.h). */
const char *ferrovs_rte_version(void);

#endif
