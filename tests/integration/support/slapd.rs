//! Throwaway slapd harness.
