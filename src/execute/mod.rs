//! Executing the plan's creates (lands with issue 4).
