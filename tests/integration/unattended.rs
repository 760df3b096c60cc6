//! Integration tests: unattended.
