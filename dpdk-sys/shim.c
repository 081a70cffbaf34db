#include <rte_errno.h>
#include <rte_version.h>
#include "shim.h"

int ferrovs_rte_errno(void)
{
    return rte_errno;
}

const char *ferrovs_rte_version(void)
{
    return rte_version();
}
