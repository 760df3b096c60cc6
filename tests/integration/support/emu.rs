//! In-process emulator harness.
