pub mod ofp;
