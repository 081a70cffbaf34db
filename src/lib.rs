pub mod ctl;
