//! hakit's integration tests: one binary, a module per concern.

mod bad_config;
mod booted;
mod booted_aws;
mod booted_package;
mod booted_pair;
mod booted_stacks;
mod booted_state;
mod cli;
mod cloud;
mod cloud_steps;
mod cloud_steps_fake;
mod common;
mod crash_points;
mod e2e;
mod emulator;
mod galera_real;
mod iam;
mod journal_steps;
mod keepalived_rules;
mod module_graph;
mod package;
mod proxysql_real;
mod setup_rollback;
mod snapshots;
mod terminal;
mod validators;
