//! The local Salesforce emulator (lands with issue 2).
