//! Shared test support: the test kit's russh client with strict known_hosts checks.

pub use testkit::hosts::*;
