"""Starts os-ken applications without the osken-manager script (os-ken 4.2.2 ships none).

Usage: python osken_run.py PORT APP_FILE [REPORT_PATH]

The OpenFlow listener binds 127.0.0.1:PORT only. APP_FILE is loaded by path, so neither the apps
in this directory nor os-ken's own simple_switch_13.py (extracted from the os-ken 1.4.1 wheel,
whose os_ken/app/ 4.2.2 no longer ships) need be installed. REPORT_PATH, when given, reaches the app through the
FVS_E2E_REPORT environment variable. Prints "osken: listening" once the apps are up, which the
Rust tests wait for.
"""

import os
import sys


def main():
    port = int(sys.argv[1])
    app = os.path.abspath(sys.argv[2])
    if len(sys.argv) > 3:
        os.environ["FVS_E2E_REPORT"] = sys.argv[3]

    from os_ken import cfg
    from os_ken.base import app_manager

    # Parse an empty command line so every registered option gets its default, then pin the
    # listener to loopback and the test's port.
    cfg.CONF([], project="os_ken", version="e2e")
    cfg.CONF.set_override("ofp_listen_host", "127.0.0.1")
    cfg.CONF.set_override("ofp_tcp_listen_port", port)
    cfg.CONF.set_override("ofp_ssl_listen_port", 0)

    print("osken: listening", flush=True)
    app_manager.AppManager.run_apps([app])


if __name__ == "__main__":
    main()
