//! The `ovs-ofctl` text syntax for flows, matches and actions (parse and print).
