/* The DPDK headers ferrovs binds. bindgen reads this file; the generated
 * wrappers for DPDK's static inline functions include it too. */
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_launch.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_dev.h>
#include <rte_bus_vdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>
#include <rte_log.h>
#include <rte_version.h>
#include "shim.h"
