//! hakit's integration tests: one binary, a module per concern.

mod bad_config;
mod cli;
mod common;
mod keepalived_rules;
mod snapshots;
mod validators;
