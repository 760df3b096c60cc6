//! Mapping + defaults: source record -> candidate or invalid (lands with issue 3).
