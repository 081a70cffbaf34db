//! Parsing the `ovs-ofctl` flow and action syntax.
